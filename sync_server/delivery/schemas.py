"""Delivery request and response bodies (docs/api.md, "Delivery")."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from ..farm.schemas import Priority
from ..schemas import Id, Input, Output

Format = Literal["prores_hq", "h264", "h265"]
AudioCodec = Literal["aac", "pcm"]
BurnIn = Literal["shot", "timecode", "frame"]
Status = Literal["queued", "running", "succeeded", "failed"]
MAX_EDIT = 5000  # cuts in an edit sent with the request
MAX_FRAME = 10_000_000  # a frame of a movie in an edit: 115 hours at 24 fps


class EditCut(Input):
    """One cut of an edit the client sends (a VSE strip): a version's movie from `cut_in` up to `cut_out`."""

    shot_id: Id
    version_id: Id = Field(
        description="A version of the shot with a movie (approved unless require_approval is false)."
    )
    cut_in: int = Field(
        ge=0,
        le=MAX_FRAME,
        description="The movie's first frame in the cut, counted at the project's rate from 0.",
    )
    cut_out: int = Field(
        ge=1,
        le=MAX_FRAME,
        description="The frame after the cut's last (cut_out - cut_in frames are conformed).",
    )


class ConformBody(Input):
    profile: Format = Field(
        default="h264", description="The conform's picture codec; a master in the same codec copies it."
    )
    require_approval: bool = Field(
        default=True, description="True: each shot's newest *approved* movie. False: the edit's media."
    )
    priority: Priority = 50
    edit: Annotated[list[EditCut], Field(min_length=1, max_length=MAX_EDIT)] | None = Field(
        default=None,
        description="The edit to conform, in order (the VSE's strips); default: the server's edit.",
    )


class DeliveryBody(ConformBody):
    formats: Annotated[list[Format], Field(min_length=1, max_length=3)] = Field(
        description="Masters to make: prores_hq (.mov), h264 and h265 (.mp4)."
    )
    audio_codec: AudioCodec = Field(default="aac", description="pcm (24-bit) only in a .mov (prores_hq).")
    range: Literal["limited", "full"] = Field(
        default="limited", description="Video range, tagged bt709 (full: h264/h265)."
    )
    slate: bool = Field(default=False, description="A slate before the first frame: project, version, date.")
    slate_seconds: float = Field(default=2.0, gt=0, le=30)
    burn_ins: Annotated[list[BurnIn], Field(max_length=3)] = Field(
        default_factory=list, description="shot: its code; timecode: record timecode; frame: frame number."
    )
    record_start: str = Field(default="01:00:00:00", max_length=16, description="The first frame's timecode.")


class FileOut(Output):
    name: str
    path: str = Field(description="Relative to the storage root.")
    url: str
    size: int
    sha256: str


class ConformOut(FileOut):
    frames: int
    encoded: int = Field(description="Shot segments this conform encoded; the rest were reused.")
    reused: int
    tracks: list[str] = Field(description="Sound tracks, in order (reference, temp).")


class MasterOut(Output):
    format: Format
    status: Status
    job_id: uuid.UUID
    progress: float
    stage: str = Field(description="What the agent is doing now.")
    file: FileOut | None = None
    probe: dict[str, Any] | None = Field(default=None, description="What PyAV read from the master.")
    error: str = ""
    copied_picture: bool = Field(default=False, description="The conform's picture copied (no re-encode).")
    encoded: int | None = Field(
        default=None,
        description="Shots whose picture this master encoded; the others were reused from an earlier master "
        "on the same agent. None: the picture was copied, or encoded whole (a conform of an older agent).",
    )
    reused: int | None = None
    reused_sound: bool = Field(default=False, description="The sound copied from an earlier master's.")


class DeliveryOut(Output):
    id: uuid.UUID
    project_id: uuid.UUID
    number: int
    status: Status
    progress: float = Field(description="0..1 over the conform and masters together.")
    stage: str
    path: str = Field(description="The delivery's folder, relative to the storage root: delivery/vNNN.")
    options: dict[str, Any]
    frames: int = Field(description="The edit's length (a master with a slate has the slate's frames more).")
    shots: int
    plan: list[dict[str, Any]] = Field(description="Each shot: code, version, cut range, sound.")
    conform_job_id: uuid.UUID | None
    conform_status: Status
    conform: ConformOut | None
    masters: list[MasterOut]
    error: str
    created_by: str
    created_at: datetime
    finished_at: datetime | None
