"""Cinematic presets: built-ins (read-only, seeded by migration) plus each project's own."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, status
from pydantic import Field
from sqlalchemy import Select, or_

from .. import resources
from ..auth.permissions import Permission
from ..context import UnitOfWork
from ..crud import get_or_404
from ..db.models import CinematicPreset, Project
from ..deps import uow_for
from ..errors import Conflict, Unprocessable
from ..project_children import ChildSpec
from ..schemas import Id, Input, LongText, Name, Output, Patch, ShortText

LensMm = Annotated[float, Field(gt=1.0, le=2000.0)]
SensorMm = Annotated[float, Field(gt=1.0, le=100.0)]


class PresetCreate(Input):
    name: Name
    shot_size: ShortText = ""
    angle: ShortText = ""
    lens_mm: LensMm = 35.0
    sensor_mm: SensorMm = 36.0
    movement: ShortText = ""
    film_look: ShortText = ""
    lighting: ShortText = ""
    description: LongText = ""


class PresetUpdate(Patch):
    name: Name | None = None
    shot_size: ShortText | None = None
    angle: ShortText | None = None
    lens_mm: LensMm | None = None
    sensor_mm: SensorMm | None = None
    movement: ShortText | None = None
    film_look: ShortText | None = None
    lighting: ShortText | None = None
    description: LongText | None = None


class PresetClone(Input):
    project_id: Id
    name: Name | None = Field(default=None, description="Default: '<name> (copy)' or the same name.")


class PresetOut(Output):
    id: uuid.UUID
    project_id: uuid.UUID | None
    builtin: bool
    name: str
    shot_size: str
    angle: str
    lens_mm: float
    sensor_mm: float
    movement: str
    film_look: str
    lighting: str
    description: str
    revision: int
    created_at: datetime
    updated_at: datetime


def _scope(stmt: Select[Any], project_id: uuid.UUID) -> Select[Any]:
    return stmt.where(or_(CinematicPreset.project_id == project_id, CinematicPreset.project_id.is_(None)))


def _refuse_builtin(_uow: UnitOfWork, preset: CinematicPreset, *_args: Any) -> None:
    if preset.builtin:
        raise Conflict(
            f"'{preset.name}' is a built-in preset and cannot be changed; clone it into your "
            f"project (POST /api/presets/{preset.id}/clone) and edit the copy.",
            field="id",
        )


PRESET = resources.Resource(CinematicPreset, "preset", PresetOut.model_validate, unique_field="name")
PRESETS = ChildSpec(
    res=PRESET,
    plural="presets",
    create_model=PresetCreate,
    update_model=PresetUpdate,
    out_model=PresetOut,
    sortable={
        "name": CinematicPreset.name,
        "builtin": CinematicPreset.builtin,
        "lens_mm": CinematicPreset.lens_mm,
        "shot_size": CinematicPreset.shot_size,
    },
    default_sort=["builtin", "name"],
    search_columns=[
        CinematicPreset.name,
        CinematicPreset.shot_size,
        CinematicPreset.movement,
        CinematicPreset.film_look,
        CinematicPreset.lighting,
    ],
    write_permission=Permission.ASSET_EDIT,
    scope=_scope,
    before_update=_refuse_builtin,
    before_delete=_refuse_builtin,
)

clone_router = APIRouter(tags=["presets"])


@clone_router.post(
    "/presets/{preset_id}/clone",
    response_model=PresetOut,
    status_code=status.HTTP_201_CREATED,
    operation_id="clone_preset",
)
def clone_preset(
    preset_id: uuid.UUID,
    body: PresetClone,
    uow: Annotated[UnitOfWork, Depends(uow_for(Permission.ASSET_EDIT))],
) -> PresetOut:
    """Copy a built-in (or another project's) preset into a project, where it can be edited."""
    source = get_or_404(uow.session, CinematicPreset, preset_id, "preset")
    project = get_or_404(uow.session, Project, body.project_id, "project")
    name = body.name or (source.name if source.project_id != project.id else f"{source.name} (copy)")
    if len(name) > 200:
        raise Unprocessable("name is longer than 200 characters", field="name")
    copy = CinematicPreset(
        project_id=project.id,
        builtin=False,
        name=name,
        **{
            f: getattr(source, f)
            for f in (
                "shot_size",
                "angle",
                "lens_mm",
                "sensor_mm",
                "movement",
                "film_look",
                "lighting",
                "description",
            )
        },
    )
    return resources.create(uow, PRESET, copy)  # type: ignore[return-value]
