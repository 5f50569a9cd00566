"""farm: failure classes, lease loss without blame, requeue keeps age, agent ComfyUI state

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        # Failures the job itself raised ({agent, kind, error, at}); lost leases are only counted.
        batch.add_column(sa.Column("failures", JSON, nullable=False, server_default="[]"))
        batch.add_column(sa.Column("lease_losses", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("agents") as batch:
        batch.add_column(sa.Column("state_reason", sa.String(length=500), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("state_reason")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("lease_losses")
        batch.drop_column("failures")
