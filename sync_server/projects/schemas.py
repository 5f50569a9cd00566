"""Project request and response bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field, field_validator

from aipipe_shared.framerate import FrameRateError, fps_decimal, fps_text, parse_fps

from ..schemas import Code, FolderName, Input, LongText, Name, Output, Patch, RecipeName, WorkflowName

Dimension = Annotated[int, Field(ge=16, le=16384, multiple_of=2)]
Handle = Annotated[int, Field(ge=0, le=1000)]
FpsValue = str | int | float
RENDER_RECIPE = "The render recipe shots use unless they name their own (docs/api.md, 'Recipes')."
AUTO_RENDER = (
    "Queue a shot's recipe as soon as its first frame is approved, when the shot is ready "
    "(as render-ready would)."
)


def _check_fps(value: FpsValue | None) -> FpsValue | None:
    if value is None:
        return None
    try:
        parse_fps(value)
    except FrameRateError as exc:
        raise ValueError(str(exc)) from exc
    return value


class ProjectCreate(Input):
    code: Code
    name: Name
    description: LongText = ""
    fps: FpsValue = Field(default="24", description="24, 25, '23.976' or '24000/1001'.")
    width: Dimension = 1920
    height: Dimension = 1080
    handle_in: Handle = 0
    handle_out: Handle = 0
    storage_root: FolderName | None = Field(
        default=None, description="Folder under the storage root; default: the code."
    )
    render_workflow: WorkflowName | None = Field(
        default=None, description="Workflow shots render with; default: the server's AIPIPE_RENDER_WORKFLOW."
    )
    render_recipe: RecipeName | None = Field(default=None, description=RENDER_RECIPE)
    auto_render: bool = Field(default=False, description=AUTO_RENDER)

    _fps = field_validator("fps")(_check_fps)


class ProjectUpdate(Patch):
    code: Code | None = None
    name: Name | None = None
    description: LongText | None = None
    fps: FpsValue | None = None
    width: Dimension | None = None
    height: Dimension | None = None
    handle_in: Handle | None = None
    handle_out: Handle | None = None
    storage_root: FolderName | None = Field(
        default=None, description="Folder under the storage root; default: the code."
    )
    archived: bool | None = None
    render_workflow: WorkflowName | None = Field(
        default=None, description="Workflow shots render with; null: the server's AIPIPE_RENDER_WORKFLOW."
    )
    render_recipe: RecipeName | None = Field(default=None, description=RENDER_RECIPE + " null: none.")
    auto_render: bool | None = Field(default=None, description=AUTO_RENDER)

    _fps = field_validator("fps")(_check_fps)

    @field_validator("auto_render")
    @classmethod
    def _not_null(cls, value: bool | None) -> bool:
        if value is None:
            raise ValueError("auto_render is true or false")
        return value


class ProjectOut(Output):
    id: uuid.UUID
    code: str
    name: str
    description: str
    fps: str = Field(description="Exact rate: '24' or '24000/1001'.")
    fps_num: int
    fps_den: int
    fps_decimal: float
    width: int
    height: int
    handle_in: int
    handle_out: int
    storage_root: str | None
    locked: bool
    archived: bool
    render_workflow: str | None
    render_recipe: str | None = Field(default=None, description=RENDER_RECIPE)
    auto_render: bool = Field(default=False, description=AUTO_RENDER)
    revision: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, project: object) -> ProjectOut:
        num, den = project.fps_num, project.fps_den  # type: ignore[attr-defined]
        data = {name: getattr(project, name) for name in cls.model_fields if hasattr(project, name)}
        data.update(fps=fps_text(num, den), fps_decimal=fps_decimal(num, den))
        return cls.model_validate(data)


class ConfirmBody(Input):
    revision: int | None = Field(default=None, ge=1, description="The project revision you confirmed.")


class UnlockBody(Input):
    """Its own model: an unlock needs the revision (here or as If-Match), a confirm checks it only when given,
    and the OpenAPI marks a shared model's revision required for both."""

    revision: int | None = Field(default=None, ge=1, description="The project revision you unlock.")


class ConfirmOut(Output):
    project: ProjectOut
    tree_root: str = Field(description="The project folder, relative to the storage root.")
    created_folders: list[str]
    existing_folders: int
    metadata_files: int
    locked_shots: int
    skipped: list[str] = Field(description="Records whose codes the naming templates cannot place.")


class NamingOut(Output):
    templates: dict[str, str] = Field(
        description="The effective set: defaults with this project's overrides."
    )
    overrides: dict[str, str]
    revision: int


class NamingUpdate(Patch):
    overrides: dict[str, str] = Field(description="Templates this project changes, by name.")
