"""Conform this edit, without Blender: the VSE's picture strips as the `edit` of `POST
/api/projects/{id}/conform` (each strip's shot, the version it shows and its trims as the version's frames),
what stops a strip from being sent, the server's refusal named by strip, and the conform followed from the
live `delivery.*` and `job.*` events until its file is made.

The add-on side (`conform.py`) reads the strips and keeps one `ConformFollow` in the runtime's extras.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .render_ready_core import Line

PROFILES = ("h264", "h265", "prores_hq")
FIELD = re.compile(r"^edit\[(?P<index>\d+)\]\.(?P<field>\w+)$")
OPEN = ("queued", "running")


@dataclass(frozen=True)
class StripCut:
    """What the conform needs of one picture strip (read on the main thread)."""

    name: str
    code: str
    shot_id: str
    version_id: str  # "" when the strip shows no version (a slate)
    start: int  # on the timeline
    end: int  # the frame after its last
    offset_start: int  # frames of its media trimmed off its head (`frame_offset_start`)
    movie: bool  # a MOVIE strip (a still shows no frames of a movie)


class EditRefused(ValueError):
    """The edit cannot be sent as it is; `lines` say which strips and why."""

    def __init__(self, lines: list[Line]) -> None:
        super().__init__("; ".join(line.template for line in lines))
        self.lines = lines


def edit_cuts(strips: Sequence[StripCut]) -> list[dict[str, Any]]:
    """The `edit` of the request: one cut per strip, left to right, `cut_in`/`cut_out` in the frames of the
    version's movie (the strip's head trim, and its length after it). Raises `EditRefused` for a strip that
    shows no movie version, and for strips that overlap (a conform plays one picture at a time)."""
    ordered = sorted(strips, key=lambda s: (s.start, s.end))
    problems: list[Line] = []
    for strip in ordered:
        if not strip.version_id:
            problems.append(Line("{strip} shows no version: update its media first", {"strip": strip.name}))
        elif not strip.movie:
            problems.append(Line("{strip} shows a still, not a movie", {"strip": strip.name}))
    for before, after in zip(ordered, ordered[1:], strict=False):
        if after.start < before.end:
            problems.append(
                Line("{first} and {second} overlap", {"first": before.name, "second": after.name})
            )
    if not ordered:
        problems.append(Line("The edit has no strips: build it first"))
    if problems:
        raise EditRefused(problems)
    return [
        {
            "shot_id": s.shot_id,
            "version_id": s.version_id,
            "cut_in": s.offset_start,
            "cut_out": s.offset_start + (s.end - s.start),
        }
        for s in ordered
    ]


def request_body(cuts: list[dict[str, Any]], approved_only: bool, profile: str) -> dict[str, Any]:
    return {
        "edit": cuts,
        "require_approval": approved_only,
        "profile": profile if profile in PROFILES else "h264",
    }


def refusal_lines(errors: Sequence[Mapping[str, Any]], names: Sequence[str]) -> list[Line]:
    """The server's 422 `errors`, each on the strip it names (`edit[i].field` → the i-th strip sent)."""
    lines = []
    for error in errors:
        found = FIELD.match(str(error.get("field", "")))
        message = str(error.get("message", ""))
        if found and int(found["index"]) < len(names):
            lines.append(
                Line("Strip {strip}: {message}", {"strip": names[int(found["index"])], "message": message})
            )
        else:
            lines.append(
                Line("Field {field}: {message}", {"field": error.get("field", ""), "message": message})
            )
    return lines


@dataclass
class ConformFollow:
    """The conform sent from this Blender: the delivery as the server last told it, the conform job's
    progress from heartbeats, and why it was refused (one line per strip)."""

    delivery: dict[str, Any] = field(default_factory=dict)
    progress: float = 0.0
    stage: str = ""
    refused: list[Line] = field(default_factory=list)
    names: list[str] = field(default_factory=list)  # the strips sent, in the edit's order

    def sent(self, names: Sequence[str]) -> None:
        self.delivery, self.progress, self.stage, self.refused = {}, 0.0, "", []
        self.names = list(names)

    def queued(self, delivery: Mapping[str, Any]) -> None:
        self.delivery = dict(delivery)
        self.progress = float(delivery.get("progress") or 0.0)
        self.stage = str(delivery.get("stage") or "")

    def refuse(self, errors: Sequence[Mapping[str, Any]], detail: str) -> None:
        self.delivery = {}
        self.refused = refusal_lines(errors, self.names) if errors else [Line(detail)]

    def on_delivery(self, delivery: Mapping[str, Any]) -> bool:
        """A `delivery.*` event's record: True when it is ours (its status, stage and file kept)."""
        if not self.delivery or str(delivery.get("id")) != str(self.delivery.get("id")):
            return False
        self.queued(delivery)
        return True

    def on_job(self, job: Mapping[str, Any]) -> bool:
        """A `job.*` event's record (or a `job.progress` reading): True when it is our conform's job."""
        if not self.delivery or str(job.get("id")) != str(self.delivery.get("conform_job_id")):
            return False
        if self.delivery.get("status") not in OPEN:
            return True  # the delivery's own event said it ended: a late reading changes nothing
        if job.get("progress") is not None:
            self.progress = max(self.progress, float(job["progress"]))
        if job.get("stage_text"):
            self.stage = f"conform: {job['stage_text']}"  # as the delivery's own `stage` says it
        status = str(job.get("status") or "")
        if status == "running" and self.delivery.get("status") == "queued":
            self.delivery["status"] = "running"
        return True

    @property
    def status(self) -> str:
        return str(self.delivery.get("status") or "")

    def lines(self) -> list[Line]:
        """What the panel shows: the delivery, its progress or outcome, or why the edit was refused."""
        if self.refused:
            return [Line("The conform was refused:"), *self.refused]
        if not self.delivery:
            return []
        number = f"v{int(self.delivery.get('number') or 0):03d}"
        frames = int(self.delivery.get("frames") or 0)
        shots = int(self.delivery.get("shots") or 0)
        head = Line("Conform {number}: {shots} cuts, {frames} frames", {"number": number, "shots": shots,
                                                                       "frames": frames})  # fmt: skip
        if self.status in OPEN:
            percent = round(self.progress * 100)
            if self.status == "queued":
                return [head, Line("Waiting for a farm agent")]
            return [head, Line("{percent}% done {stage}", {"percent": percent, "stage": self.stage})]
        if self.status == "succeeded":
            conform = self.delivery.get("conform") or {}
            return [head, Line("Done: {name}", {"name": conform.get("name", "")})]
        return [head, Line("Failed: {error}", {"error": self.delivery.get("error") or self.status})]
