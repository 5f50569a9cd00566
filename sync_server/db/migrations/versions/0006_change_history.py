"""change sets with undo/redo (shot list round trip, issue 7)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 00:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

EVENT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "change_sets",
        sa.Column("id", EVENT_ID, autoincrement=True, nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("actor_name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("target_id", EVENT_ID, nullable=True),
        sa.Column("undone_seq", sa.Integer(), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.CheckConstraint("kind IN ('edit', 'undo', 'redo')", name=op.f("ck_change_sets_kind")),
        sa.CheckConstraint("state IN ('applied', 'undone')", name=op.f("ck_change_sets_state")),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_change_sets_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["change_sets.id"],
            name=op.f("fk_change_sets_target_id_change_sets"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_sets")),
    )
    with op.batch_alter_table("change_sets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_change_sets_project_id"), ["project_id"], unique=False)
        batch_op.create_index("ix_change_sets_project_state", ["project_id", "state"], unique=False)

    op.create_table(
        "change_items",
        sa.Column("id", EVENT_ID, autoincrement=True, nullable=False),
        sa.Column("change_set_id", EVENT_ID, nullable=False),
        sa.Column("entity", sa.String(length=64), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("revision_before", sa.Integer(), nullable=True),
        sa.Column("revision_after", sa.Integer(), nullable=True),
        sa.Column("changes", JSON, nullable=False),
        sa.Column("snapshot", JSON, nullable=True),
        sa.CheckConstraint(
            "action IN ('created', 'updated', 'deleted')", name=op.f("ck_change_items_action")
        ),
        sa.ForeignKeyConstraint(
            ["change_set_id"],
            ["change_sets.id"],
            name=op.f("fk_change_items_change_set_id_change_sets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_items")),
    )
    with op.batch_alter_table("change_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_change_items_change_set_id"), ["change_set_id"], unique=False)
        batch_op.create_index("ix_change_items_entity", ["entity", "entity_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("change_items", schema=None) as batch_op:
        batch_op.drop_index("ix_change_items_entity")
        batch_op.drop_index(batch_op.f("ix_change_items_change_set_id"))
    op.drop_table("change_items")
    with op.batch_alter_table("change_sets", schema=None) as batch_op:
        batch_op.drop_index("ix_change_sets_project_state")
        batch_op.drop_index(batch_op.f("ix_change_sets_project_id"))
    op.drop_table("change_sets")
