"""The server's tables. The migrations in `migrations/versions/` create exactly these."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from aipipe_shared.vocabulary import JOB_STATUSES, ROLES, SHOT_STATUSES, VERDICTS, VERSION_STAGES

# The feature tables live in their own modules; importing them registers them on Base.metadata with these.
from . import (  # noqa: F401
    models_breakdown,
    models_camera,
    models_dailies,
    models_delivery,
    models_editorial,
    models_history,
    models_recipes,
)
from .base import Base, IdMixin, RevisionMixin, TimestampMixin, utcnow
from .types import EventIdType, JsonType, in_list

AGENT_STATES = ("idle", "busy", "draining", "asleep", "offline", "error")


class User(IdMixin, TimestampMixin, RevisionMixin, Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(in_list("role", ROLES), name="role"),)

    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)


class ApiKey(IdMixin, Base):
    __tablename__ = "api_keys"
    __table_args__ = (CheckConstraint(in_list("role", ROLES), name="role"),)

    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    prefix: Mapped[str] = mapped_column(String(16), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class RefreshToken(Base):
    __tablename__ = "refresh_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class Project(IdMixin, TimestampMixin, RevisionMixin, Base):
    __tablename__ = "projects"

    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    fps_num: Mapped[int] = mapped_column(Integer, default=24)
    fps_den: Mapped[int] = mapped_column(Integer, default=1)
    width: Mapped[int] = mapped_column(Integer, default=1920)
    height: Mapped[int] = mapped_column(Integer, default=1080)
    handle_in: Mapped[int] = mapped_column(Integer, default=0)
    handle_out: Mapped[int] = mapped_column(Integer, default=0)
    storage_root: Mapped[str | None] = mapped_column(String(1024), default=None)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    # Naming-template overrides for this project (the rest come from the naming engine's defaults).
    naming: Mapped[dict[str, str]] = mapped_column(JsonType, default=dict)
    confirmed_at: Mapped[datetime | None] = mapped_column(default=None)
    # The workflow a shot renders with unless it names its own; None: the server's AIPIPE_RENDER_WORKFLOW.
    render_workflow: Mapped[str | None] = mapped_column(String(200), default=None)
    # GPU hours the project may spend on the farm (sync_server/costs), warned at 80 % and 100 %; None: none.
    gpu_budget_hours: Mapped[float | None] = mapped_column(Float, default=None)
    # The budget level (80 or 100, in %) the project was last warned of by a `project.budget_warning`
    # event; 0: none. Set again when the budget changes, so each crossing is pushed once.
    gpu_budget_warned: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The render recipe shots use unless they name their own (sync_server/recipes); None: none.
    render_recipe: Mapped[str | None] = mapped_column(String(100), default=None)
    # Queue the shot's recipe as soon as its first frame is approved (render-ready for that shot).
    auto_render: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Scene(IdMixin, TimestampMixin, RevisionMixin, Base):
    __tablename__ = "scenes"
    __table_args__ = (UniqueConstraint("project_id", "code"),)

    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")


class Character(IdMixin, TimestampMixin, RevisionMixin, Base):
    __tablename__ = "characters"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    aliases: Mapped[list[str]] = mapped_column(JsonType, default=list)
    description: Mapped[str] = mapped_column(Text, default="")
    clothing_options: Mapped[list[str]] = mapped_column(JsonType, default=list)
    lora_file: Mapped[str | None] = mapped_column(String(1024), default=None)
    trigger_words: Mapped[list[str]] = mapped_column(JsonType, default=list)
    lora_strength: Mapped[float] = mapped_column(Float, default=1.0)
    reference_images: Mapped[list[str]] = mapped_column(JsonType, default=list)


class Environment(IdMixin, TimestampMixin, RevisionMixin, Base):
    __tablename__ = "environments"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    location: Mapped[str] = mapped_column(Text, default="")
    time_of_day: Mapped[str] = mapped_column(String(100), default="")
    weather: Mapped[str] = mapped_column(String(100), default="")
    mood: Mapped[str] = mapped_column(String(200), default="")
    prompt: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")


class CinematicPreset(IdMixin, TimestampMixin, RevisionMixin, Base):
    """Built-ins have no project and are read-only; projects clone and edit their own."""

    __tablename__ = "cinematic_presets"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    project_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True, default=None
    )
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    name: Mapped[str] = mapped_column(String(200))
    shot_size: Mapped[str] = mapped_column(String(50), default="")
    angle: Mapped[str] = mapped_column(String(50), default="")
    lens_mm: Mapped[float] = mapped_column(Float, default=35.0)
    sensor_mm: Mapped[float] = mapped_column(Float, default=36.0)
    movement: Mapped[str] = mapped_column(String(100), default="")
    film_look: Mapped[str] = mapped_column(String(200), default="")
    lighting: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")


class Shot(IdMixin, TimestampMixin, RevisionMixin, Base):
    __tablename__ = "shots"
    __table_args__ = (
        UniqueConstraint("project_id", "code"),
        CheckConstraint(in_list("status", SHOT_STATUSES), name="status"),
        CheckConstraint("duration_frames > 0", name="duration_positive"),
        Index("ix_shots_project_order", "project_id", "sort_order"),
    )

    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    scene_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("scenes.id", ondelete="RESTRICT"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    description: Mapped[str] = mapped_column(Text, default="")
    action: Mapped[str] = mapped_column(Text, default="")
    dialogue: Mapped[str] = mapped_column(Text, default="")
    camera_notes: Mapped[str] = mapped_column(Text, default="")
    duration_frames: Mapped[int] = mapped_column(Integer, default=72)
    handle_in: Mapped[int | None] = mapped_column(Integer, default=None)
    handle_out: Mapped[int | None] = mapped_column(Integer, default=None)
    preset_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("cinematic_presets.id", ondelete="SET NULL"), default=None
    )
    environment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("environments.id", ondelete="SET NULL"), default=None
    )
    status: Mapped[str] = mapped_column(String(20), default="draft")
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    render_workflow: Mapped[str | None] = mapped_column(String(200), default=None)  # None: the project's
    render_recipe: Mapped[str | None] = mapped_column(String(100), default=None)  # None: the project's
    # The take chosen as the shot's first frame (use-as-first-frame); None: the newest approved previz.
    # use_alter: shots and versions refer to each other (versions.shot_id), so this key is added after both.
    first_frame_version_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("versions.id", ondelete="SET NULL", use_alter=True), default=None
    )

    subjects: Mapped[list[ShotSubject]] = relationship(
        back_populates="shot",
        cascade="all, delete-orphan",
        order_by="ShotSubject.position",
        lazy="selectin",
    )


class ShotSubject(Base):
    """A character in a shot, with the clothing chosen for it."""

    __tablename__ = "shot_subjects"

    shot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("shots.id", ondelete="CASCADE"), primary_key=True)
    character_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("characters.id", ondelete="RESTRICT"), primary_key=True, index=True
    )
    clothing: Mapped[str] = mapped_column(String(200), default="")
    position: Mapped[int] = mapped_column(Integer, default=0)

    shot: Mapped[Shot] = relationship(back_populates="subjects")


class Version(IdMixin, TimestampMixin, RevisionMixin, Base):
    """One published take of a shot at one stage: `<stage>/vNNN/` with its files and provenance."""

    __tablename__ = "versions"
    __table_args__ = (
        UniqueConstraint("shot_id", "stage", "number"),
        CheckConstraint(in_list("stage", VERSION_STAGES), name="stage"),
        CheckConstraint("number > 0", name="number_positive"),
        CheckConstraint("handle_in >= 0 AND handle_out >= 0", name="extent_handles"),
        CheckConstraint("frame_count IS NULL OR frame_count > handle_in + handle_out", name="extent_frames"),
    )

    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    shot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("shots.id", ondelete="CASCADE"), index=True)
    stage: Mapped[str] = mapped_column(String(20))
    number: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    verdict: Mapped[str | None] = mapped_column(String(20), default=None)
    path: Mapped[str] = mapped_column(String(1024))  # folder, relative to the storage root
    provenance: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    gpu_seconds: Mapped[float | None] = mapped_column(Float, default=None)
    thumbnail: Mapped[str | None] = mapped_column(String(1024), default=None)
    # What the media holds (docs/versions.md, "Media extent"): the number of its first frame, how many
    # frames, and how many of them are head / tail handles around the cut. None: unknown (not a movie).
    first_frame: Mapped[int | None] = mapped_column(Integer, default=None)
    frame_count: Mapped[int | None] = mapped_column(Integer, default=None)
    handle_in: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    handle_out: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    files: Mapped[list[VersionFile]] = relationship(
        back_populates="version",
        cascade="all, delete-orphan",
        order_by="VersionFile.position",
        lazy="selectin",
    )


class VersionFile(IdMixin, Base):
    __tablename__ = "version_files"
    __table_args__ = (UniqueConstraint("version_id", "name"),)

    version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("versions.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    path: Mapped[str] = mapped_column(String(1024))  # relative to the storage root
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    mime: Mapped[str] = mapped_column(String(100))
    media: Mapped[dict[str, Any]] = mapped_column(
        JsonType, default=dict
    )  # codec, size, fps, frames, duration
    position: Mapped[int] = mapped_column(Integer, default=0)

    version: Mapped[Version] = relationship(back_populates="files")


class ReviewNote(IdMixin, TimestampMixin, Base):
    """A verdict and/or a note on a version, optionally anchored to a frame."""

    __tablename__ = "review_notes"
    __table_args__ = (CheckConstraint("verdict IS NULL OR " + in_list("verdict", VERDICTS), name="verdict"),)

    version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("versions.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    author_name: Mapped[str] = mapped_column(String(200), default="")
    verdict: Mapped[str | None] = mapped_column(String(20), default=None)
    frame: Mapped[int | None] = mapped_column(Integer, default=None)
    text: Mapped[str] = mapped_column(Text, default="")


class CharacterReference(IdMixin, TimestampMixin, Base):
    """A reference image of a character (stored under the character's `reference` folder): shown to
    artists and usable as a take's `reference_image` input."""

    __tablename__ = "character_references"
    __table_args__ = (UniqueConstraint("character_id", "name"),)

    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    character_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("characters.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255))
    path: Mapped[str] = mapped_column(String(1024))  # relative to the storage root
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    mime: Mapped[str] = mapped_column(String(100))
    width: Mapped[int | None] = mapped_column(Integer, default=None)
    height: Mapped[int | None] = mapped_column(Integer, default=None)
    created_by: Mapped[str] = mapped_column(String(200), default="")


class Agent(IdMixin, TimestampMixin, RevisionMixin, Base):
    """A render agent: one process on a GPU (or CPU) host that pulls jobs."""

    __tablename__ = "agents"

    name: Mapped[str] = mapped_column(String(200), unique=True)
    host: Mapped[str] = mapped_column(String(255), default="")
    version: Mapped[str] = mapped_column(String(50), default="")
    gpus: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list)
    gpu_error: Mapped[str | None] = mapped_column(Text, default=None)
    cpu_count: Mapped[int] = mapped_column(Integer, default=0)
    ram_mb: Mapped[int] = mapped_column(Integer, default=0)
    tags: Mapped[list[str]] = mapped_column(JsonType, default=list)
    job_types: Mapped[list[str]] = mapped_column(JsonType, default=list)
    loaded_models: Mapped[list[str]] = mapped_column(JsonType, default=list)
    state: Mapped[str] = mapped_column(String(20), default="idle")
    state_reason: Mapped[str] = mapped_column(String(500), default="")  # why it is `unavailable`
    protocol_version: Mapped[int] = mapped_column(Integer, default=1)  # aipipe_shared.protocol
    draining: Mapped[bool] = mapped_column(Boolean, default=False)
    last_seen_at: Mapped[datetime | None] = mapped_column(default=None)
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    object_info_sha: Mapped[str | None] = mapped_column(
        ForeignKey("comfy_object_infos.sha256", ondelete="SET NULL"), default=None
    )


class ComfyObjectInfo(Base):
    """`GET /object_info` of an agent's ComfyUI, kept once per distinct content: what graphs must fit."""

    __tablename__ = "comfy_object_infos"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JsonType)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class Job(IdMixin, TimestampMixin, RevisionMixin, Base):
    """A unit of farm work: a ComfyUI workflow run or a CPU task, under a lease while it runs."""

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(in_list("status", JOB_STATUSES), name="status"),
        Index("ix_jobs_claim", "status", "priority"),
    )

    project_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True, default=None
    )
    shot_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("shots.id", ondelete="SET NULL"), index=True, default=None
    )
    output_stage: Mapped[str | None] = mapped_column(String(20), default=None)
    type: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(20), default="queued")
    priority: Mapped[int] = mapped_column(Integer, default=50)
    min_vram_gb: Mapped[float] = mapped_column(Float, default=0.0)
    tags: Mapped[list[str]] = mapped_column(JsonType, default=list)
    model: Mapped[str | None] = mapped_column(String(200), default=None)  # the model it needs resident
    workflow: Mapped[str | None] = mapped_column(String(200), default=None)
    params: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    graph: Mapped[dict[str, Any] | None] = mapped_column(JsonType, default=None)
    inputs: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list)
    estimate_s: Mapped[float] = mapped_column(Float, default=60.0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    timeout_s: Mapped[int] = mapped_column(Integer, default=3600)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    failed_agents: Mapped[list[str]] = mapped_column(JsonType, default=list)  # not offered to these again
    # Failures the job itself raised: [{agent, kind, error, at}]; a lost lease is only counted.
    failures: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list)
    lease_losses: Mapped[int] = mapped_column(Integer, default=0)
    agent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("agents.id", ondelete="SET NULL"), index=True, default=None
    )
    lease_id: Mapped[str | None] = mapped_column(String(64), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    not_before: Mapped[datetime | None] = mapped_column(default=None)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    stage_text: Mapped[str] = mapped_column(String(200), default="")
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    outputs: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list)
    result: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    version_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("versions.id", ondelete="SET NULL"), default=None
    )
    error: Mapped[str] = mapped_column(Text, default="")
    gpu_seconds: Mapped[float | None] = mapped_column(Float, default=None)
    preview_mime: Mapped[str | None] = mapped_column(String(20), default=None)  # its newest preview image
    # The take request that made this job (image loop: operation, workflow, inputs, overrides): what its
    # version's provenance records and what a redo repeats. None: not a take.
    take: Mapped[dict[str, Any] | None] = mapped_column(JsonType, default=None)
    # The recipe version this job is a step of (its step, parent and stage are in `take["provenance"]`).
    recipe_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("render_recipes.id", ondelete="SET NULL"), index=True, default=None
    )
    created_by: Mapped[str] = mapped_column(String(200), default="")
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


# The claim query's order (highest priority first, then oldest): read in index order, stopping at the limit.
Index("ix_jobs_queue", Job.status, Job.priority.desc(), Job.created_at)


class JobDependency(Base):
    __tablename__ = "job_dependencies"

    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    parent_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class AgentBlock(Base):
    """Failures of one agent on one job type; `blocked` once they reach the limit."""

    __tablename__ = "agent_blocks"

    agent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True)
    job_type: Mapped[str] = mapped_column(String(30), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AuditEvent(Base):
    """Every mutation: who, what, revision before/after, changed fields. Also the live-event log."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_entity", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(EventIdType, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    actor_name: Mapped[str] = mapped_column(String(200), default="")
    actor_kind: Mapped[str] = mapped_column(String(20), default="system")
    action: Mapped[str] = mapped_column(String(64), index=True)
    entity: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str | None] = mapped_column(String(64), default=None)
    project_id: Mapped[uuid.UUID | None] = mapped_column(default=None, index=True)
    revision_before: Mapped[int | None] = mapped_column(Integer, default=None)
    revision_after: Mapped[int | None] = mapped_column(Integer, default=None)
    changes: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    data: Mapped[dict[str, Any] | None] = mapped_column(JsonType, default=None)
    request_id: Mapped[str | None] = mapped_column(String(64), default=None)
    remote_addr: Mapped[str | None] = mapped_column(String(64), default=None)
