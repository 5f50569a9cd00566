"""render farm: per-shot workflow choice, job previews (issue 4)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22 00:50:00
"""

from __future__ import annotations

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # placeholder: filled in by the feature that owns this revision


def downgrade() -> None:
    pass
