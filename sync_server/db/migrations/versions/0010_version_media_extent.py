"""versions record what their media holds (first frame, frame count, handles included)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 03:00:00

Existing versions get no first frame or frame count (unknown) and no handles: until now every movie was
assumed to hold the shot's head handle, which was wrong for playblasts; the edit now reads these columns.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("versions") as batch:
        batch.add_column(sa.Column("first_frame", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("frame_count", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("handle_in", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("handle_out", sa.Integer(), nullable=False, server_default="0"))
        batch.create_check_constraint(
            op.f("ck_versions_extent_handles"), "handle_in >= 0 AND handle_out >= 0"
        )
        batch.create_check_constraint(
            op.f("ck_versions_extent_frames"), "frame_count IS NULL OR frame_count > handle_in + handle_out"
        )


def downgrade() -> None:
    with op.batch_alter_table("versions") as batch:
        batch.drop_constraint(op.f("ck_versions_extent_frames"), type_="check")
        batch.drop_constraint(op.f("ck_versions_extent_handles"), type_="check")
        batch.drop_column("handle_out")
        batch.drop_column("handle_in")
        batch.drop_column("frame_count")
        batch.drop_column("first_frame")
