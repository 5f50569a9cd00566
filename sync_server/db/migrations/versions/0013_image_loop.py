"""the image loop: takes, first-frame pins, character references

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 06:30:00
"""

from __future__ import annotations

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Placeholder: filled in by the work it is named for (or removed, with the chain mended)."""


def downgrade() -> None:
    """Placeholder."""
