"""editorial: proxy movie renders (issue 6)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 00:50:00
"""

from __future__ import annotations

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # placeholder: filled in by the feature that owns this revision


def downgrade() -> None:
    pass
