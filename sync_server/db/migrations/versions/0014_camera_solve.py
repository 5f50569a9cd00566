"""camera solutions stored on image versions

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 06:30:00
"""

from __future__ import annotations

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Placeholder: filled in by the work it is named for (or removed, with the chain mended)."""


def downgrade() -> None:
    """Placeholder."""
