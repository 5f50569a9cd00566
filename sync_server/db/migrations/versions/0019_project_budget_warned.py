"""the GPU budget level a project was last warned of (80 or 100; 0: none), so each crossing is pushed once

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 13:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("projects") as batch:
        batch.add_column(sa.Column("gpu_budget_warned", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("projects") as batch:
        batch.drop_column("gpu_budget_warned")
