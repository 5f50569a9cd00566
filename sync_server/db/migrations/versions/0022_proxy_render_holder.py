"""proxy renders name the server process that holds them, so another process of the same machine knows at
once that a killed server's render is not on its way

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 06:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Rows made before this name no holder: their heartbeat alone decides, as before.
    with op.batch_alter_table("proxy_renders") as batch:
        batch.add_column(sa.Column("holder", sa.String(300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("proxy_renders") as batch:
        batch.drop_column("holder")
