"""proxy renders carry a heartbeat from the server process that holds them, so another process reuses a
render still on its way there, and takes one whose process stopped as failed

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Rows queued or running before this have none: no process beats for them, so they count as stopped.
    with op.batch_alter_table("proxy_renders") as batch:
        batch.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("proxy_renders") as batch:
        batch.drop_column("heartbeat_at")
