"""Recipe request and response bodies (docs/api.md, "Recipes")."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from aipipe_shared.vocabulary import VersionStage

from ..schemas import Id, Input, LongText, Output, RecipeName, ShortText, WorkflowName

Priority = Annotated[int, Field(ge=0, le=100)]
CpuStepType = Literal["transcode"]
MAX_STEPS = 10


class RecipeStep(Input):
    """One farm step: a workflow template (GPU) or a CPU job type, its parameters and the stage its output
    is published as. The first step renders the shot (first frame, prompt, seed, size, length bound as a
    shot render binds them); each next step takes the previous step's output as its `video`/`image`."""

    label: ShortText = Field(default="", description="What the step does, e.g. 'RIFE 2x'.")
    workflow: WorkflowName | None = Field(default=None, description="Template name (GPU step).")
    job_type: CpuStepType | None = Field(
        default=None,
        description="A CPU step instead of a workflow: `transcode` runs ffmpeg on the previous output "
        "with `params.args` (and `params.output_name`).",
    )
    params: dict[str, Any] = Field(default_factory=dict, description="Values for the template's roles.")
    output_stage: VersionStage | None = Field(
        default=None,
        description="The version stage of its result; default by job type: i2v render, interpolate "
        "interp, upscale upscale, transcode final.",
    )
    fps_factor: float | None = Field(
        default=None,
        gt=0,
        le=16,
        description="Bind the template's fps to the previous output's fps times this (RIFE 2x: 2).",
    )


class RecipeBody(Input):
    """A new recipe (POST) or a new version of one (PUT: the old versions are kept)."""

    description: LongText = ""
    steps: Annotated[list[RecipeStep], Field(min_length=1, max_length=MAX_STEPS)]


class RecipeCreate(RecipeBody):
    name: RecipeName


class RecipeStepOut(Output):
    label: str
    workflow: str | None
    job_type: str
    params: dict[str, Any]
    output_stage: str
    fps_factor: float | None
    input_kind: str | None = Field(description="What it takes: image (first frame), video, or nothing.")
    output_kind: str = Field(description="What it makes: video or image.")


class RecipeOut(Output):
    id: uuid.UUID = Field(description="This version's id.")
    project_id: uuid.UUID
    name: str
    version: int
    versions: list[int] = Field(description="Every version of the recipe, oldest first.")
    description: str
    steps: list[RecipeStepOut]
    used: bool = Field(description="Some job ran (or waits to run) a version of it: it cannot be deleted.")
    created_by: str
    created_at: datetime


class RecipeList(Output):
    items: list[RecipeOut] = Field(description="The newest version of each recipe, by name.")


class RecipeRender(Input):
    """Queue a recipe for one shot."""

    recipe: RecipeName | None = Field(default=None, description="Default: the shot's, then the project's.")
    version: int | None = Field(default=None, ge=1, description="Default: the newest version.")
    priority: Priority = 50
    seed: int | None = Field(default=None, ge=0, le=2**63 - 1)


class RenderReady(Input):
    recipe: RecipeName | None = Field(
        default=None, description="The recipe for every shot; null: each shot's, then the project's."
    )
    shot_ids: Annotated[list[Id], Field(max_length=5000)] | None = Field(
        default=None, description="Only these shots (e.g. the strips selected in the VSE); null: all."
    )
    priority: Priority = 50


class QueuedShot(Output):
    shot_id: uuid.UUID
    shot_code: str
    recipe: str
    version: int = Field(description="The recipe version queued.")
    job_ids: list[uuid.UUID] = Field(description="One job per step, in step order.")


class SkippedShot(Output):
    shot_id: uuid.UUID
    shot_code: str
    reason: str


class RenderReadyOut(Output):
    queued: list[QueuedShot]
    skipped: list[SkippedShot]
