"""dailies: a reel and contact sheet of a day's versions, scheduled or on demand (issue 17)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "dailies",
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(length=20), nullable=False),
        sa.Column("scheduled_day", sa.Date(), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=True),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("clips", JSON, nullable=False),
        sa.Column("files", JSON, nullable=False),
        sa.Column("frames", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed', 'empty')", name=op.f("ck_dailies_status")
        ),
        sa.CheckConstraint("trigger IN ('scheduled', 'manual')", name=op.f("ck_dailies_trigger")),
        sa.CheckConstraint("number > 0", name=op.f("ck_dailies_number_positive")),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_dailies_project_id_projects"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_dailies_job_id_jobs"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dailies")),
        sa.UniqueConstraint("project_id", "day", "number", name=op.f("uq_dailies_project_id_day_number")),
        sa.UniqueConstraint("project_id", "scheduled_day", name=op.f("uq_dailies_project_id_scheduled_day")),
    )
    with op.batch_alter_table("dailies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dailies_project_id"), ["project_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_dailies_job_id"), ["job_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("dailies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dailies_job_id"))
        batch_op.drop_index(batch_op.f("ix_dailies_project_id"))
    op.drop_table("dailies")
