"""shot-list import runs off the event loop: import jobs with progress

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 03:00:00
"""

from __future__ import annotations

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Reserved for work in progress; nothing to change yet."""


def downgrade() -> None:
    """Reserved for work in progress; nothing to change yet."""
