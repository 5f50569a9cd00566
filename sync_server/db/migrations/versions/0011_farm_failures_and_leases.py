"""farm: failure classes, lease loss without blame, requeue keeps age, agent ComfyUI state

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 03:00:00
"""

from __future__ import annotations

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Reserved for work in progress; nothing to change yet."""


def downgrade() -> None:
    """Reserved for work in progress; nothing to change yet."""
