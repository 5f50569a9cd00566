"""scenario breakdown drafts and prompt templates (issue 8)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 00:50:00
"""

from __future__ import annotations

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # placeholder: filled in by the feature that owns this revision


def downgrade() -> None:
    pass
