"""Farm request and response bodies (the agent protocol is written down in docs/agent-protocol.md)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from aipipe_shared.protocol import IMPLIED_PROTOCOL_VERSION, OLDEST_PROTOCOL_VERSION, PROTOCOL_VERSION

from ..layout.schemas import LayoutControl
from ..schemas import Id, Input, Output, ShortText

JobType = Literal[
    "t2i",
    "i2i",
    "image_edit",
    "inpaint",
    "i2v",
    "upscale",
    "interpolate",
    "depth",
    "playblast",
    "control_image",
    "proxy",
    "transcode",
    "conform",
    "master",
    "dailies",
]
CPU_JOB_TYPES = frozenset(
    {"playblast", "control_image", "proxy", "transcode", "conform", "master", "dailies"}
)
Priority = Annotated[int, Field(ge=0, le=100)]
Words = Annotated[list[ShortText], Field(max_length=50)]


class GpuIn(Input):
    index: int = Field(ge=0)
    name: ShortText
    uuid: ShortText | None = None
    vram_total_mb: int = Field(ge=0)
    vram_free_mb: int | None = Field(default=None, ge=0)
    driver: ShortText | None = None
    vram_used_mb: int | None = Field(default=None, ge=0)
    utilization_pct: int | None = Field(default=None, ge=0, le=100, description="NVML GPU utilisation.")
    temperature_c: int | None = Field(default=None, ge=-50, le=200, description="NVML GPU temperature.")


class AgentRegister(Input):
    name: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[\w][\w.@-]*$")]
    host: ShortText = ""
    version: ShortText = ""
    gpus: Annotated[list[GpuIn], Field(max_length=16)] = []
    gpu_error: Annotated[str, Field(max_length=2000)] | None = None
    cpu_count: int = Field(default=0, ge=0)
    ram_mb: int = Field(default=0, ge=0)
    tags: Words = []
    job_types: Annotated[list[JobType], Field(max_length=20)] = []
    loaded_models: Words = []
    protocol_version: int = Field(
        default=IMPLIED_PROTOCOL_VERSION,
        ge=0,
        le=2**31 - 1,
        description="The farm protocol version the agent speaks (aipipe_shared.protocol); absent: 1.",
        # The versions this server serves; any other is refused (422) with a message saying which work.
        json_schema_extra={"minimum": OLDEST_PROTOCOL_VERSION, "maximum": PROTOCOL_VERSION},
    )


class AgentRegistered(Output):
    agent_id: uuid.UUID
    protocol_version: int = Field(description="The protocol version the server will speak with this agent.")
    lease_s: int
    heartbeat_s: int
    claim_wait_max_s: float


class AgentHeartbeat(Input):
    state: Literal["idle", "busy", "unavailable"] = Field(
        default="idle", description="unavailable: it cannot run jobs now (its ComfyUI does not answer)."
    )
    reason: Annotated[str, Field(max_length=2000)] = Field(default="", description="Why it is unavailable.")
    loaded_models: Words | None = None
    gpus: Annotated[list[GpuIn], Field(max_length=16)] | None = None


class AgentAction(Output):
    action: Literal["continue", "drain"]


class AgentOut(Output):
    id: uuid.UUID
    name: str
    host: str
    version: str
    gpus: list[dict[str, Any]]
    gpu_error: str | None
    cpu_count: int
    ram_mb: int
    tags: list[str]
    job_types: list[str]
    loaded_models: list[str]
    state: str
    state_reason: str = Field(default="", description="Why the agent is `unavailable` (its own words).")
    protocol_version: int = Field(description="The farm protocol version it registered with.")
    object_info_sha: str | None = Field(
        default=None, description="sha256 of the ComfyUI /object_info (node catalogue) it sent last."
    )
    draining: bool
    last_seen_at: datetime | None
    current_job_id: uuid.UUID | None = None
    blocked_types: list[str] = []
    revision: int


class ClaimBody(Input):
    wait_s: float = Field(default=30.0, ge=0, le=300)
    loaded_models: Words | None = None


class JobSubmit(Input):
    type: JobType
    workflow: ShortText | None = Field(default=None, description="Template name; GPU jobs need one.")
    params: dict[str, Any] = Field(default_factory=dict, description="Values for the template's roles.")
    priority: Priority = 50
    depends_on: Annotated[list[Id], Field(max_length=100)] = []
    tags: Words = []
    project_id: Id | None = None
    shot_id: Id | None = None
    output_stage: ShortText | None = None
    max_attempts: int = Field(default=3, ge=1, le=20)
    timeout_s: int = Field(default=3600, ge=10, le=7 * 24 * 3600)
    estimate_s: float | None = Field(default=None, gt=0)


class JobOut(Output):
    id: uuid.UUID
    project_id: uuid.UUID | None
    shot_id: uuid.UUID | None
    output_stage: str | None
    type: str
    status: str
    priority: int
    min_vram_gb: float
    tags: list[str]
    model: str | None
    workflow: str | None
    params: dict[str, Any]
    depends_on: list[uuid.UUID] = []
    estimate_s: float
    max_attempts: int
    timeout_s: int
    attempts: int = Field(description="Times the job was leased, the first try included.")
    failed_agents: list[str] = Field(description="Agents it is not offered to again.")
    failures: list[dict[str, Any]] = Field(
        default=[], description="Failures the job raised: agent, kind (input, node, agent), error, at."
    )
    lease_losses: int = Field(default=0, description="Leases lost without blame (agent or server away).")
    agent_id: uuid.UUID | None
    agent_name: str | None = Field(default=None, description="The agent holding (or that last held) it.")
    project_code: str | None = None
    lease_expires_at: datetime | None
    not_before: datetime | None
    progress: float
    stage_text: str
    cancel_requested: bool
    outputs: list[dict[str, Any]]
    result: dict[str, Any]
    version_id: uuid.UUID | None
    error: str
    gpu_seconds: float | None
    preview_mime: str | None = Field(
        default=None,
        description="Type of the newest preview image at /api/farm/jobs/{id}/preview; null: none.",
    )
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    revision: int


class LeaseOut(Output):
    id: str
    expires_at: datetime


class ClaimedJob(Output):
    id: uuid.UUID
    type: str
    workflow: str | None
    params: dict[str, Any]
    graph: dict[str, Any] | None
    inputs: list[dict[str, Any]]
    parents: list[dict[str, Any]]
    priority: int
    timeout_s: int
    attempt: int


class Claim(Output):
    job: ClaimedJob
    lease: LeaseOut


class PreviewIn(Input):
    mime: Literal["image/jpeg", "image/png", "image/webp"]
    data: Annotated[str, Field(max_length=720_000, description="base64 of the image, at most 512 KiB")]


class JobHeartbeat(Input):
    lease_id: Annotated[str, Field(min_length=1, max_length=64)]
    progress: float = Field(default=0.0, ge=0.0, le=1.0)
    stage: Annotated[str, Field(max_length=200)] = ""
    preview: PreviewIn | None = Field(
        default=None, description="The newest preview image (e.g. ComfyUI's sampler preview), if it changed."
    )


class JobAction(Output):
    action: Literal["continue", "cancel"]
    lease_expires_at: datetime


class LeaseBody(Input):
    lease_id: Annotated[str, Field(min_length=1, max_length=64)]


class JobWatchBody(LeaseBody):
    wait_s: float = Field(default=30.0, ge=0, le=300, description="Longest wait (capped by the server).")


class JobWatchAction(Output):
    action: Literal["continue", "cancel"]


class JobComplete(LeaseBody):
    gpu_seconds: float | None = Field(default=None, ge=0)
    version_id: Id | None = Field(default=None, description="The version a shot job published.")
    provenance: dict[str, Any] = Field(default_factory=dict)


class JobFail(LeaseBody):
    error: Annotated[str, Field(min_length=1, max_length=20000)]
    retryable: bool = True
    kind: Literal["input", "node", "agent"] | None = Field(
        default=None,
        description="input: depends only on the job's inputs (fails at once); node: a node raised while "
        "running (one more try, on another agent when there is one); agent: this host could not do it "
        "(tried elsewhere). Unset: `agent` when retryable, else `input`.",
    )


class PriorityBody(Input):
    priority: Priority


class FarmStatus(Output):
    agents: dict[str, int]
    gpus: int
    queue_depth: int
    running: int
    succeeded_last_hour: int
    failed_last_hour: int
    error_rate_last_hour: float
    jobs_by_status: dict[str, int]


class BlockOut(Output):
    agent_id: uuid.UUID
    agent_name: str
    job_type: str
    failures: int
    blocked: bool


class RenderShot(Input):
    workflow: ShortText | None = Field(default=None, description="Default: AIPIPE_RENDER_WORKFLOW.")
    priority: Priority = 50
    seed: int | None = Field(default=None, ge=0, le=2**63 - 1)
    params: dict[str, Any] = Field(default_factory=dict, description="Overrides for the bound roles.")
    layout_control: LayoutControl | None = Field(
        default=None,
        description="Follow the shot's layout: its depth video as the workflow's control_video (issue 15).",
    )
