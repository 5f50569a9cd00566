"""server-assigned codes and version numbers allocated safely under concurrency

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 03:00:00
"""

from __future__ import annotations

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Reserved for work in progress; nothing to change yet."""


def downgrade() -> None:
    """Reserved for work in progress; nothing to change yet."""
