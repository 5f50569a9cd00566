"""agents report their ComfyUI object_info

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21 22:38:22.783444
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "comfy_object_infos",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_comfy_object_infos")),
    )
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("object_info_sha", sa.String(length=64), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_agents_object_info_sha_comfy_object_infos"),
            "comfy_object_infos",
            ["object_info_sha"],
            ["sha256"],
            ondelete="SET NULL",
        )


def downgrade() -> None:

    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_agents_object_info_sha_comfy_object_infos"), type_="foreignkey"
        )
        batch_op.drop_column("object_info_sha")

    op.drop_table("comfy_object_infos")
