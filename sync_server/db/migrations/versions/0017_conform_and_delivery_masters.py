"""conform and delivery masters: the `audio` version stage (a shot's temp sound) and the deliveries table
(issue 17)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
OLD_STAGES = (
    "previz",
    "layout",
    "playblast",
    "render",
    "comp",
    "final",
    "plate",
    "reference",
    "mask",
    "control",
    "interp",
    "upscale",
)
NEW_STAGES = (*OLD_STAGES, "audio")


def _in_list(column: str, values: tuple[str, ...]) -> str:
    # The values as they were when this migration was written (the vocabulary may grow later).
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    with op.batch_alter_table("versions") as batch:
        batch.drop_constraint(op.f("ck_versions_stage"), type_="check")
        batch.create_check_constraint(op.f("ck_versions_stage"), _in_list("stage", NEW_STAGES))
    op.create_table(
        "deliveries",
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("conform_job_id", sa.Uuid(), nullable=True),
        sa.Column("options", JSON, nullable=False),
        sa.Column("plan", JSON, nullable=False),
        sa.Column("conform", JSON, nullable=True),
        sa.Column("masters", JSON, nullable=False),
        sa.Column("frames", sa.Integer(), nullable=False),
        sa.Column("shots", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed')", name=op.f("ck_deliveries_status")
        ),
        sa.CheckConstraint("number > 0", name=op.f("ck_deliveries_number_positive")),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_deliveries_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["conform_job_id"],
            ["jobs.id"],
            name=op.f("fk_deliveries_conform_job_id_jobs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint("project_id", "number", name=op.f("uq_deliveries_project_id_number")),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deliveries_project_id"), ["project_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_deliveries_conform_job_id"), ["conform_job_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deliveries_conform_job_id"))
        batch_op.drop_index(batch_op.f("ix_deliveries_project_id"))
    op.drop_table("deliveries")
    op.execute(sa.text("DELETE FROM versions WHERE stage = 'audio'"))
    with op.batch_alter_table("versions") as batch:
        batch.drop_constraint(op.f("ck_versions_stage"), type_="check")
        batch.create_check_constraint(op.f("ck_versions_stage"), _in_list("stage", OLD_STAGES))
