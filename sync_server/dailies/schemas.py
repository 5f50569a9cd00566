"""Dailies request and response bodies."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from pydantic import Field

from ..schemas import Input, Output


class DailiesMake(Input):
    date: dt.date | None = Field(
        default=None,
        strict=False,  # JSON has no date type: "YYYY-MM-DD" is read as one
        description="The day (YYYY-MM-DD, studio time: AIPIPE_TIMEZONE); default: today.",
    )


class DailiesFile(Output):
    name: str
    path: str = Field(description="Relative to the storage root.")
    size: int
    sha256: str
    mime: str
    url: str


class DailiesOut(Output):
    id: uuid.UUID
    project_id: uuid.UUID
    project_code: str
    day: dt.date = Field(description="The calendar day the dailies cover, in `timezone`.")
    number: int = Field(description="1 for the day's first dailies, 2 for a re-make, …")
    trigger: str = Field(description="scheduled (AIPIPE_DAILIES_AT) or manual (asked for).")
    timezone: str
    status: str = Field(description="queued, running, succeeded, failed, or empty (no versions that day).")
    job_id: uuid.UUID | None = Field(description="The farm `dailies` job that makes the reel.")
    path: str = Field(description="The dailies folder, relative to the storage root.")
    versions: int = Field(description="How many versions the reel holds.")
    clips: list[dict[str, Any]] = Field(
        description="The versions in the reel's order: version_id, shot, scene, stage, number, kind "
        "(video, image, none), slate (the card's lines), labels; frames and slate_frames once made."
    )
    files: list[DailiesFile] = Field(description="The reel (.mp4) and contact sheet (.html), once made.")
    frames: int = Field(description="The reel's length in frames, once made.")
    error: str
    created_by: str
    created_at: dt.datetime
    finished_at: dt.datetime | None
