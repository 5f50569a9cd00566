"""versions record what their media holds (first frame, frame count, handles included)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 03:00:00
"""

from __future__ import annotations

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Reserved for work in progress; nothing to change yet."""


def downgrade() -> None:
    """Reserved for work in progress; nothing to change yet."""
