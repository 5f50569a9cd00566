"""render farm: per-shot and per-project render workflow, job preview images, the claim queue index

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22 00:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("projects") as batch:
        batch.add_column(sa.Column("render_workflow", sa.String(length=200), nullable=True))
    with op.batch_alter_table("shots") as batch:
        batch.add_column(sa.Column("render_workflow", sa.String(length=200), nullable=True))
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("preview_mime", sa.String(length=20), nullable=True))
    op.create_index("ix_jobs_queue", "jobs", ["status", sa.text("priority DESC"), "created_at"])


def downgrade() -> None:
    op.drop_index("ix_jobs_queue", table_name="jobs")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("preview_mime")
    with op.batch_alter_table("shots") as batch:
        batch.drop_column("render_workflow")
    with op.batch_alter_table("projects") as batch:
        batch.drop_column("render_workflow")
