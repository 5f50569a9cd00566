"""Shot request and response bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from aipipe_shared.vocabulary import ShotStatus

from ..schemas import Code, Id, Input, LongText, Output, Patch, RecipeName, ShortText, WorkflowName
from .status import allowed_next

Status = ShotStatus
Frames = Annotated[int, Field(ge=1, le=1_000_000)]
Handle = Annotated[int, Field(ge=0, le=1000)]


class SubjectIn(Input):
    character_id: Id
    clothing: ShortText = ""


class SubjectOut(Output):
    character_id: Id
    clothing: str


class ShotCreate(Input):
    scene_id: Id
    code: Code | None = Field(default=None, description="Default: the next code from the naming rules.")
    description: LongText = ""
    action: LongText = ""
    dialogue: LongText = ""
    camera_notes: LongText = ""
    duration_frames: Frames | None = Field(default=None, description="Default: 3 seconds at the project fps.")
    handle_in: Handle | None = None
    handle_out: Handle | None = None
    preset_id: Id | None = None
    environment_id: Id | None = None
    subjects: Annotated[list[SubjectIn], Field(max_length=50)] = []
    status: Literal["draft", "ready"] = "draft"
    render_workflow: WorkflowName | None = Field(
        default=None, description="Workflow this shot renders with; default: the project's."
    )
    render_recipe: RecipeName | None = Field(
        default=None, description="Render recipe of this shot; default: the project's."
    )
    after_shot_id: Id | None = Field(default=None, description="Insert after this shot; default: at the end.")


class ShotUpdate(Patch):
    scene_id: Id | None = None
    code: Code | None = None
    description: LongText | None = None
    action: LongText | None = None
    dialogue: LongText | None = None
    camera_notes: LongText | None = None
    duration_frames: Frames | None = None
    handle_in: Handle | None = None
    handle_out: Handle | None = None
    preset_id: Id | None = None
    environment_id: Id | None = None
    subjects: Annotated[list[SubjectIn], Field(max_length=50)] | None = None
    status: Status | None = None
    render_workflow: WorkflowName | None = Field(
        default=None, description="Workflow this shot renders with; null: the project's."
    )
    render_recipe: RecipeName | None = Field(
        default=None, description="Render recipe of this shot; null: the project's."
    )


class ShotOut(Output):
    id: uuid.UUID
    project_id: uuid.UUID
    scene_id: uuid.UUID
    code: str
    order: int
    description: str
    action: str
    dialogue: str
    camera_notes: str
    duration_frames: int
    handle_in: int | None
    handle_out: int | None
    preset_id: uuid.UUID | None
    environment_id: uuid.UUID | None
    subjects: list[SubjectOut]
    status: Status
    next_statuses: list[str]
    locked: bool
    render_workflow: str | None
    render_recipe: str | None = None
    revision: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, s: Any) -> ShotOut:
        return cls(
            id=s.id,
            project_id=s.project_id,
            scene_id=s.scene_id,
            code=s.code,
            order=s.sort_order,
            description=s.description,
            action=s.action,
            dialogue=s.dialogue,
            camera_notes=s.camera_notes,
            duration_frames=s.duration_frames,
            handle_in=s.handle_in,
            handle_out=s.handle_out,
            preset_id=s.preset_id,
            environment_id=s.environment_id,
            subjects=[SubjectOut(character_id=x.character_id, clothing=x.clothing) for x in s.subjects],
            status=s.status,
            next_statuses=list(allowed_next(s.status)),
            locked=s.locked,
            render_workflow=s.render_workflow,
            render_recipe=getattr(s, "render_recipe", None),
            revision=s.revision,
            created_at=s.created_at,
            updated_at=s.updated_at,
        )


class ReorderItem(Input):
    id: Id
    revision: int = Field(ge=1)


class ReorderBody(Input):
    shots: Annotated[list[ReorderItem], Field(min_length=1, max_length=20000)] = Field(
        description="The shots in their new order, each with the revision you saw. They take the places "
        "they occupied between them; shots not listed keep their places."
    )


class LockBody(Input):
    revision: int | None = Field(default=None, ge=1)
