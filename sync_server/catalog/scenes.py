"""Scenes: an ordered group of shots, coded SCN_001, SCN_002, ..."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field
from sqlalchemy import func, select

from .. import resources
from ..auth.permissions import Permission
from ..context import UnitOfWork
from ..db.models import Project, Scene, Shot
from ..errors import Conflict
from ..project_children import ChildSpec
from ..schemas import Code, Input, LongText, Output, Patch, ShortText
from ..shots.codes import check_code, next_scene_code
from ..shots.service import lock_project_codes
from ..storage.layout import ProjectLayout


class SceneCreate(Input):
    code: Code | None = Field(default=None, description="Default: the next SCN_NNN.")
    name: ShortText = ""
    description: LongText = ""
    sort_order: int | None = Field(default=None, description="Default: after the last scene.")


class SceneUpdate(Patch):
    code: Code | None = None
    name: ShortText | None = None
    description: LongText | None = None
    sort_order: int | None = None


class SceneOut(Output):
    id: uuid.UUID
    project_id: uuid.UUID
    code: str
    name: str
    description: str
    sort_order: int
    revision: int
    created_at: datetime
    updated_at: datetime


def scene_code_for(uow: UnitOfWork, project: Project, requested: str | None) -> str:
    """The requested code if the naming templates can read it, else the project's next scene code."""
    layout = ProjectLayout.of(project)
    if requested:
        check_code(layout, "scene", requested)
        return requested
    return next_scene_code(
        layout, uow.session.scalars(select(Scene.code).where(Scene.project_id == project.id))
    )


def _build(uow: UnitOfWork, project: Project, body: SceneCreate) -> Scene:
    lock_project_codes(uow.session, project.id)  # creates in one project take turns for the next code
    order = body.sort_order
    if order is None:
        last = uow.session.scalar(select(func.max(Scene.sort_order)).where(Scene.project_id == project.id))
        order = (last or 0) + 10
    return Scene(
        project_id=project.id,
        code=scene_code_for(uow, project, body.code),
        name=body.name,
        description=body.description,
        sort_order=order,
    )


def _before_delete(uow: UnitOfWork, scene: Scene) -> None:
    count = uow.session.scalar(select(func.count()).select_from(Shot).where(Shot.scene_id == scene.id)) or 0
    if count:
        raise Conflict(f"Scene {scene.code} still has {count} shots; move or delete them first.", field="id")


def _before_update(uow: UnitOfWork, scene: Scene, values: dict[str, Any]) -> None:
    if values.get("code") is None:
        values.pop("code", None)
    elif values["code"] != scene.code:
        check_code(ProjectLayout.of(uow.session.get(Project, scene.project_id)), "scene", values["code"])


SCENE = resources.Resource(Scene, "scene", SceneOut.model_validate, unique_field="code")
SCENES = ChildSpec(
    res=SCENE,
    plural="scenes",
    create_model=SceneCreate,
    update_model=SceneUpdate,
    out_model=SceneOut,
    sortable={"code": Scene.code, "order": Scene.sort_order, "name": Scene.name},
    default_sort=["order", "code"],
    search_columns=[Scene.code, Scene.name, Scene.description],
    write_permission=Permission.SHOT_STRUCTURE,
    build=_build,
    before_update=_before_update,
    before_delete=_before_delete,
)
