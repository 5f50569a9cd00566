"""editorial: proxy movie renders (issue 6)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 00:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "proxy_renders",
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("fps", sa.String(length=20), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("frames", sa.Integer(), nullable=False),
        sa.Column("shots", sa.Integer(), nullable=False),
        sa.Column("encoded", sa.Integer(), nullable=False),
        sa.Column("reused", sa.Integer(), nullable=False),
        sa.Column("segments", JSON, nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed')", name=op.f("ck_proxy_renders_status")
        ),
        sa.CheckConstraint("number > 0", name=op.f("ck_proxy_renders_number_positive")),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_proxy_renders_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proxy_renders")),
        sa.UniqueConstraint("project_id", "number", name=op.f("uq_proxy_renders_project_id_number")),
    )
    with op.batch_alter_table("proxy_renders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_proxy_renders_project_id"), ["project_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("proxy_renders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_proxy_renders_project_id"))
    op.drop_table("proxy_renders")
