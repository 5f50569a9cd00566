"""render recipes and render-ready automation: the render_recipes table, the interp and upscale version
stages, the shot's and project's chosen recipe, the project's auto_render and the job's recipe

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
OLD_STAGES = (
    "previz",
    "layout",
    "playblast",
    "render",
    "comp",
    "final",
    "plate",
    "reference",
    "mask",
    "control",
)
NEW_STAGES = (*OLD_STAGES, "interp", "upscale")


def _in_list(column: str, values: tuple[str, ...]) -> str:
    # The values as they were when this migration was written (the vocabulary may grow later).
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    with op.batch_alter_table("versions") as batch:
        batch.drop_constraint(op.f("ck_versions_stage"), type_="check")
        batch.create_check_constraint(op.f("ck_versions_stage"), _in_list("stage", NEW_STAGES))
    op.create_table(
        "render_recipes",
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("steps", JSON, nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("version > 0", name=op.f("ck_render_recipes_version_positive")),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_render_recipes_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_render_recipes")),
        sa.UniqueConstraint(
            "project_id", "name", "version", name=op.f("uq_render_recipes_project_id_name_version")
        ),
    )
    op.create_index(op.f("ix_render_recipes_project_id"), "render_recipes", ["project_id"])
    with op.batch_alter_table("projects") as batch:
        batch.add_column(sa.Column("render_recipe", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("auto_render", sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table("shots") as batch:
        batch.add_column(sa.Column("render_recipe", sa.String(length=100), nullable=True))
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("recipe_id", sa.Uuid(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_jobs_recipe_id_render_recipes"),
            "render_recipes",
            ["recipe_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_index(op.f("ix_jobs_recipe_id"), ["recipe_id"])


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_index(op.f("ix_jobs_recipe_id"))
        batch.drop_constraint(op.f("fk_jobs_recipe_id_render_recipes"), type_="foreignkey")
        batch.drop_column("recipe_id")
    with op.batch_alter_table("shots") as batch:
        batch.drop_column("render_recipe")
    with op.batch_alter_table("projects") as batch:
        batch.drop_column("auto_render")
        batch.drop_column("render_recipe")
    op.drop_index(op.f("ix_render_recipes_project_id"), table_name="render_recipes")
    op.drop_table("render_recipes")
    op.execute(sa.text("DELETE FROM versions WHERE stage IN ('interp', 'upscale')"))
    with op.batch_alter_table("versions") as batch:
        batch.drop_constraint(op.f("ck_versions_stage"), type_="check")
        batch.create_check_constraint(op.f("ck_versions_stage"), _in_list("stage", OLD_STAGES))
