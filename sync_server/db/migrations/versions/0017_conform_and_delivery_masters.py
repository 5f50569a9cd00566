"""conform and delivery masters (slot reserved; filled in by its feature work)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 10:00:00
"""

from __future__ import annotations

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing yet."""


def downgrade() -> None:
    """Nothing yet."""
