"""Version, file and review bodies."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from aipipe_shared.vocabulary import Verdict, VersionStage

from ..schemas import Input, LongText, Output, Patch

Stage = VersionStage


def _as_utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; they were stored as UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


Utc = Annotated[datetime, AfterValidator(_as_utc)]


class Provenance(BaseModel):
    """Where a version came from. Known keys are type-checked; other keys are kept as sent."""

    model_config = ConfigDict(extra="allow", strict=True)

    workflow: str | dict[str, Any] | None = Field(default=None, description="Workflow name, or the graph.")
    prompt: str | None = None
    negative_prompt: str | None = None
    seed: int | None = None
    models: list[str] | None = None
    inputs: list[Any] | dict[str, Any] | None = None
    agent: str | None = None
    job_id: str | None = None
    gpu_seconds: Annotated[float, Field(ge=0)] | None = None


class FileOut(Output):
    id: uuid.UUID
    name: str
    path: str = Field(description="Relative to the storage root.")
    size: int
    sha256: str
    mime: str
    media: dict[str, Any]
    url: str

    @classmethod
    def of(cls, f: Any) -> FileOut:
        return cls(
            id=f.id,
            name=f.name,
            path=f.path,
            size=f.size,
            sha256=f.sha256,
            mime=f.mime,
            media=f.media,
            url=f"/api/versions/{f.version_id}/files/{f.id}",
        )


class VersionOut(Output):
    id: uuid.UUID
    project_id: uuid.UUID
    shot_id: uuid.UUID
    stage: Stage
    number: int
    code: str = Field(description="The version folder's name: v001, v002, ...")
    comment: str
    verdict: Verdict | None = Field(description="The latest verdict given in review, if any.")
    path: str = Field(description="The version folder, relative to the storage root.")
    provenance: dict[str, Any]
    gpu_seconds: float | None
    first_frame: int | None = Field(description="The number of the media's first frame, as its maker said.")
    frame_count: int | None = Field(description="Frames in the movie (stated, else probed); None: no movie.")
    handle_in: int = Field(description="Head handle frames the movie holds before the cut.")
    handle_out: int = Field(description="Tail handle frames it holds after the cut.")
    created_by: str
    thumbnail_url: str | None
    files: list[FileOut]
    revision: int
    created_at: Utc
    updated_at: Utc

    @classmethod
    def of(cls, v: Any) -> VersionOut:
        return cls(
            id=v.id,
            project_id=v.project_id,
            shot_id=v.shot_id,
            stage=v.stage,
            number=v.number,
            code=v.path.rsplit("/", 1)[-1],
            comment=v.comment,
            verdict=v.verdict,
            path=v.path,
            provenance=v.provenance,
            gpu_seconds=v.gpu_seconds,
            first_frame=v.first_frame,
            frame_count=v.frame_count,
            handle_in=v.handle_in or 0,
            handle_out=v.handle_out or 0,
            created_by=v.created_by,
            thumbnail_url=f"/api/versions/{v.id}/thumbnail" if v.thumbnail else None,
            files=[FileOut.of(f) for f in v.files],
            revision=v.revision,
            created_at=v.created_at,
            updated_at=v.updated_at,
        )


class ExtentUpdate(Patch):
    """Correct what a version's movie holds (a render published before its maker said so); fields not
    sent stay as they are."""

    first_frame: int | None = Field(default=None, ge=-10_000_000, le=10_000_000)
    frame_count: int | None = Field(default=None, ge=1, le=10_000_000, description="Must match the movie.")
    handle_in: int | None = Field(default=None, ge=0, le=10_000_000)
    handle_out: int | None = Field(default=None, ge=0, le=10_000_000)


class ReviewCreate(Input):
    # A verdict, a text that is not blank, or both (review.add_review refuses neither): the document says so.
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": ["verdict"], "properties": {"verdict": {"not": {"type": "null"}}}},
                {"required": ["text"], "properties": {"text": {"pattern": "\\S"}}},
            ]
        }
    )

    verdict: Verdict | None = Field(default=None, description="Needs shot:approve.")
    text: LongText = ""
    frame: Annotated[int, Field(ge=0, le=10_000_000)] | None = Field(
        default=None, description="The frame the note is about, as the reviewer's player numbers it."
    )


class ReviewOut(Output):
    id: uuid.UUID
    version_id: uuid.UUID
    author_id: uuid.UUID | None
    author_name: str
    verdict: Verdict | None
    frame: int | None
    text: str
    created_at: Utc


class ReviewResult(ReviewOut):
    """A new review note, with what it did: the version's verdict and the shot's status after it."""

    version_verdict: Verdict | None
    shot_status: str
    shot_moved: list[str] = Field(description="Statuses the shot passed through because of this verdict.")


class FirstFrameOut(BaseModel):
    shot_id: uuid.UUID
    version: VersionOut
    file: FileOut
    pinned: bool = Field(
        default=False,
        description="Chosen with use-as-first-frame; false: the newest approved previz image.",
    )
