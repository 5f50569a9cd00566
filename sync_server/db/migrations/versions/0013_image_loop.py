"""the image loop: mask and control version stages, first-frame pins, take requests on jobs, character
references

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 06:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
OLD_STAGES = ("previz", "layout", "playblast", "render", "comp", "final", "plate", "reference")
NEW_STAGES = (*OLD_STAGES, "mask", "control")


def _in_list(column: str, values: tuple[str, ...]) -> str:
    # The values as they were when this migration was written (the vocabulary may grow later).
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    with op.batch_alter_table("versions") as batch:
        batch.drop_constraint(op.f("ck_versions_stage"), type_="check")
        batch.create_check_constraint(op.f("ck_versions_stage"), _in_list("stage", NEW_STAGES))
    with op.batch_alter_table("shots") as batch:
        batch.add_column(sa.Column("first_frame_version_id", sa.Uuid(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_shots_first_frame_version_id_versions"),
            "versions",
            ["first_frame_version_id"],
            ["id"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("take", JSON, nullable=True))
    op.create_table(
        "character_references",
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("character_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("mime", sa.String(length=100), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["character_id"],
            ["characters.id"],
            name=op.f("fk_character_references_character_id_characters"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_character_references_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_character_references")),
        sa.UniqueConstraint("character_id", "name", name=op.f("uq_character_references_character_id_name")),
    )
    op.create_index(op.f("ix_character_references_character_id"), "character_references", ["character_id"])
    op.create_index(op.f("ix_character_references_project_id"), "character_references", ["project_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_character_references_project_id"), table_name="character_references")
    op.drop_index(op.f("ix_character_references_character_id"), table_name="character_references")
    op.drop_table("character_references")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("take")
    with op.batch_alter_table("shots") as batch:
        batch.drop_constraint(op.f("fk_shots_first_frame_version_id_versions"), type_="foreignkey")
        batch.drop_column("first_frame_version_id")
    op.execute(sa.text("DELETE FROM versions WHERE stage IN ('mask', 'control')"))
    with op.batch_alter_table("versions") as batch:
        batch.drop_constraint(op.f("ck_versions_stage"), type_="check")
        batch.create_check_constraint(op.f("ck_versions_stage"), _in_list("stage", OLD_STAGES))
