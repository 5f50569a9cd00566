"""Take request and response bodies (docs/api.md, "Takes")."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from aipipe_shared.vocabulary import TakeOperation, Verdict

from ..farm.schemas import JobOut, Priority
from ..schemas import Id, Input, LongText, Output, RecipeName, WorkflowName
from ..versions.schemas import Utc, VersionOut

MAX_CANDIDATES = 16
MAX_BATCH_SHOTS = 1000
MAX_SEED = 2**32 - 1
Seed = Annotated[int, Field(ge=0, le=MAX_SEED)]
Pixels = Annotated[int, Field(ge=0, le=4096)]
Unit = Annotated[float, Field(ge=0.0, le=1.0)]


class Pad(Input):
    """Pixels added on each side (outpaint)."""

    left: Pixels = 0
    top: Pixels = 0
    right: Pixels = 0
    bottom: Pixels = 0


class ControlIn(Input):
    """A control image (depth, line or pose) conditioning the take through the template's ControlNet."""

    kind: Literal["depth", "canny", "pose"]
    version_id: Id | None = Field(
        default=None,
        description="A `control` version of the shot; null: the shot's newest control version of this kind.",
    )
    strength: float = Field(default=1.0, ge=0.0, le=2.0)
    start: Unit = 0.0
    end: Unit = 1.0

    @model_validator(mode="after")
    def _ordered(self) -> ControlIn:
        if self.end < self.start:
            raise ValueError("control.end must not come before control.start")
        return self


class TakeFields(Input):
    """What a take is made with; every field has a default."""

    operation: TakeOperation = "generate"
    workflow: WorkflowName | None = Field(
        default=None, description="Template name; null: the operation's default template."
    )
    recipe: RecipeName | None = Field(
        default=None,
        description="generate: a project render recipe starting with a text-to-image step, instead of "
        "workflow: each candidate is the recipe's chain and the take is its last image.",
    )
    recipe_version: int | None = Field(default=None, ge=1, description="Default: the recipe's newest.")
    candidates: int = Field(default=1, ge=1, le=MAX_CANDIDATES, description="Takes to make.")
    seed: Seed | None = Field(default=None, description="The first candidate's seed; null: random.")
    seeds: Literal["random", "increment"] = Field(
        default="random", description="Further candidates: random seeds, or seed + 1, + 2, ..."
    )
    source_version_id: Id | None = Field(
        default=None,
        description="The take worked on (a previz version of the shot): refine/edit/inpaint/outpaint.",
    )
    mask_version_id: Id | None = Field(
        default=None, description="inpaint: a `mask` version of the shot (white = repaint)."
    )
    prompt: LongText | None = Field(default=None, description="Replaces the prompt engine's prompt.")
    negative: LongText | None = Field(default=None, description="Replaces the prompt engine's negative.")
    instruction: LongText | None = Field(default=None, description="edit: what to change.")
    denoise: float | None = Field(default=None, ge=0.0, le=1.0, description="refine: how much changes.")
    pad: Pad | None = Field(default=None, description="outpaint: pixels per side.")
    aspect: Annotated[str, Field(pattern=r"^[1-9]\d{0,3}:[1-9]\d{0,3}$")] | None = Field(
        default=None, description="outpaint: the new aspect ratio 'W:H' (the pads are computed)."
    )
    control: ControlIn | None = None
    reference_version_ids: Annotated[list[Id], Field(max_length=8)] | None = Field(
        default=None, description="Character reference ids (POST /api/characters/{id}/references)."
    )
    params: dict[str, Any] = Field(default_factory=dict, description="Values for other template roles.")
    priority: Priority = 50


class TakeRequest(TakeFields):
    """POST /api/shots/{shot_id}/takes."""


class TakeJobOut(JobOut):
    """A take's job: the job, with its input files and the take request it was made from."""

    inputs: list[dict[str, Any]] = Field(
        description="role, name, url, sha256, version_id (or reference_id), targets [[node, input], ...]."
    )
    take: dict[str, Any] | None = Field(
        description="The take request (operation, workflow, candidate, input_version_ids ...)."
    )


class TakeJobs(Output):
    jobs: list[TakeJobOut]


class BatchTakeRequest(Input):
    """POST /api/projects/{project_id}/takes: generate takes for many shots in one request."""

    shots: Annotated[list[Id], Field(min_length=1, max_length=MAX_BATCH_SHOTS)]
    operation: Literal["generate"] = "generate"
    workflow: WorkflowName | None = None
    recipe: RecipeName | None = Field(
        default=None, description="Instead of workflow: a recipe starting with a text-to-image step."
    )
    recipe_version: int | None = Field(default=None, ge=1, description="Default: the recipe's newest.")
    candidates: int = Field(default=1, ge=1, le=MAX_CANDIDATES)
    seed: Seed | None = None
    seeds: Literal["random", "increment"] = "random"
    prompt: LongText | None = None
    negative: LongText | None = None
    control: ControlIn | None = Field(
        default=None, description="With control_from_layout: each shot's newest control version of this kind."
    )
    control_from_layout: bool = Field(
        default=False, description="Condition each shot on its newest `control` version of control.kind."
    )
    params: dict[str, Any] = Field(default_factory=dict)
    priority: Priority = 50


class BatchJob(Output):
    id: uuid.UUID
    shot_id: uuid.UUID
    seed: int | None
    chain: list[uuid.UUID] = Field(
        default_factory=list,
        description="With a recipe: the candidate's jobs in step order (id is the first; the last makes "
        "the take).",
    )


class BatchTakeOut(Output):
    count: int
    jobs: list[BatchJob]


class TakeOut(Output):
    version: VersionOut
    provenance: dict[str, Any] = Field(
        description="workflow, operation, params (every bound role), seed, input_version_ids, models, agent, "
        "agent_name, gpu_seconds, job_id, take (the request)."
    )
    verdict: Verdict | None
    is_first_frame: bool
    created_at: Utc


class UseAsFirstFrame(Input):
    note: LongText | None = Field(default=None, description="Kept with the approval.")


class RedoRequest(Input):
    new_seed: bool = Field(default=True, description="false: the take's own seed again.")
    changes: TakeFields | None = Field(
        default=None, description="Fields of the take request to change; the rest as the take was made."
    )


class ReferenceOut(Output):
    id: uuid.UUID
    character_id: uuid.UUID
    name: str
    url: str
    sha256: str
    size: int
    mime: str
    width: int | None
    height: int | None
    created_by: str
    created_at: Utc
