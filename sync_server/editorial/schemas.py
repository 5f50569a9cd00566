"""Editorial bodies: export format, EDL import (preview and apply), proxy renders."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from ..schemas import Id, Input, Output

Format = Literal["otio", "cmx_3600", "fcp_xml"]
MAX_IMPORT_CHARS = 4 * 1024 * 1024
MAX_SHOT_FRAMES = 1_000_000  # as a shot's duration_frames


class ImportBody(Input):
    format: Format = Field(description="cmx_3600 (EDL), fcp_xml or otio.")
    content: Annotated[str, Field(min_length=1, max_length=MAX_IMPORT_CHARS)] = Field(
        description="The file's text."
    )
    apply: bool = Field(default=False, description="False: show what would change. True: change the shots.")
    scene_id: Id | None = Field(
        default=None, description="Scene for shots the file adds; default: the scene of the shot before it."
    )


class ImportEvent(Output):
    index: int = Field(description="Event number in the file, from 1.")
    name: str
    reel: str
    record_in: int = Field(description="Frames from the record start.")
    duration_frames: int
    action: Literal["match", "create", "repeat"]
    matched_by: str | None = Field(description="shot_id, code, versioned name, reel or media name.")
    shot_id: uuid.UUID | None
    code: str
    duration_before: int | None


class ImportResult(Output):
    format: Format
    record_start: int = Field(description="Frames from 00:00:00:00 where the file's first event sits.")
    events: list[ImportEvent]
    order_changed: bool
    applied: bool
    shots: list[dict[str, Any]] = Field(default_factory=list, description="The shots as applied.")


class ProxyRenderOut(Output):
    id: uuid.UUID
    project_id: uuid.UUID
    number: int
    status: Literal["queued", "running", "succeeded", "failed"]
    progress: float
    path: str = Field(description="The movie, relative to the storage root.")
    fps: str
    width: int
    height: int
    frames: int
    shots: int
    encoded: int = Field(description="Shots this render encoded; the rest were joined from the cache.")
    reused: int
    segments: list[dict[str, Any]]
    error: str
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    url: str
    warnings: list[str] = Field(
        default_factory=list,
        description="Shots whose movie is shorter than the cut (their missing frames are a red card).",
    )

    @classmethod
    def of(cls, row: Any) -> ProxyRenderOut:
        segments = row.segments or []
        return cls(
            **{name: getattr(row, name) for name in cls.model_fields if name not in ("url", "warnings")},
            url=f"/api/editorial/proxies/{row.id}/movie",
            warnings=[str(s["warning"]) for s in segments if isinstance(s, dict) and s.get("warning")],
        )


class MediaOut(Output):
    version_id: uuid.UUID
    stage: str
    number: int
    file_id: uuid.UUID | None
    name: str
    path: str = Field(description="Relative to the storage root.")
    url: str | None = Field(description="Download URL of the file; None when it is missing on the server.")
    sha256: str
    still: bool
    frames: int | None = Field(description="Frames in the movie (None: a still or unknown).")
    first_frame: int | None = Field(default=None, description="Its first frame's number, as made.")
    handle_in: int = Field(default=0, description="Head handle frames the movie holds before the cut.")
    handle_out: int = Field(default=0, description="Tail handle frames after the cut.")


class NoteOut(Output):
    frame: int = Field(description="Frame of the version's media the note is about.")
    text: str
    verdict: str | None
    author: str


class EditShotOut(Output):
    shot_id: uuid.UUID
    code: str
    revision: int
    duration_frames: int
    handle_in: int
    source_in: int = Field(description="Media frames skipped at the head (the head handle the movie holds).")
    missing_frames: int = Field(
        default=0, description="Frames the cut needs past the movie's end (a version shorter than the cut)."
    )
    warning: str | None = Field(default=None, description="Set when frames are missing; names the shot.")
    media: MediaOut | None = Field(description="None: a slate (colour strip with the code).")
    notes: list[NoteOut] = Field(default_factory=list, description="Review notes on that media, by frame.")
    audio: MediaOut | None = Field(default=None, description="Reference sound: newest `reference` version.")


class EditOut(Output):
    project_id: uuid.UUID
    fps_num: int
    fps_den: int
    record_start: str
    frames: int
    shots: list[EditShotOut]
    warnings: list[str] = Field(default_factory=list, description="One per shot whose movie is too short.")


class CutEntry(Input):
    shot_id: Id
    frames: int = Field(ge=1, le=MAX_SHOT_FRAMES)
    source_in: int | None = Field(default=None, ge=0, description="Default: as in the shot list's edit.")
    version_id: Id | None = Field(default=None, description="Default: the media the edit picks.")


class CutBody(Input):
    format: Format
    record_start: str | None = Field(default=None, max_length=16)
    cut: Annotated[list[CutEntry], Field(min_length=1, max_length=20000)]


class ChangeEntry(Input):
    """One picture strip in the new order: an existing shot (with the revision seen) or a split of one."""

    shot_id: Id | None = None
    revision: int | None = Field(default=None, ge=1)
    split_from: Id | None = Field(default=None, description="A new shot cut out of this shot.")
    duration_frames: int = Field(ge=1, le=MAX_SHOT_FRAMES)


class OmitEntry(Input):
    shot_id: Id
    revision: int = Field(ge=1)


class ChangesBody(Input):
    shots: Annotated[list[ChangeEntry], Field(min_length=1, max_length=20000)]
    omit: Annotated[list[OmitEntry], Field(max_length=20000)] = []
    apply: bool = Field(default=True, description="False: check and show the result, change nothing.")


class ChangesResult(Output):
    applied: bool
    shots: list[dict[str, Any]] = Field(description="The edit's shots in the new order, as applied.")
    created: list[dict[str, Any]] = Field(description="Shots made by splits, with their new codes.")
    omitted: list[uuid.UUID]
    durations: dict[str, list[int]] = Field(description="shot id -> [before, after]")
