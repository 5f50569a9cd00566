"""proxy renders keep the key of the edit they show, so a proxy of an unchanged edit is not rendered again

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("proxy_renders") as batch:
        batch.add_column(sa.Column("edit_key", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("proxy_renders") as batch:
        batch.drop_column("edit_key")
