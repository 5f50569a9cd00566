"""change sets with undo/redo (shot list round trip, issue 7)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 00:50:00
"""

from __future__ import annotations

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # placeholder: filled in by the feature that owns this revision


def downgrade() -> None:
    pass
