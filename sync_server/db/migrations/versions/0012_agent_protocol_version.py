"""agents register with a protocol version

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agents") as batch:
        # Agents registered before versions existed spoke protocol 1 (aipipe_shared.protocol).
        batch.add_column(sa.Column("protocol_version", sa.Integer(), nullable=False, server_default="1"))


def downgrade() -> None:
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("protocol_version")
