"""What a version's media holds: the number of its first frame, its frame count, and how many of those
frames are head and tail handles around the cut. Set by whoever makes the version (the add-on's playblast,
the farm, ingest, an upload); a movie whose maker says nothing is probed for its frame count and taken to
hold the cut only (no handles)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import Unprocessable

FIELDS = ("first_frame", "frame_count", "handle_in", "handle_out")
MAX_FRAME = 10_000_000


@dataclass(frozen=True)
class MediaExtent:
    """As stated by the maker; None: not said (frame_count then comes from the probe, handles are 0)."""

    first_frame: int | None = None
    frame_count: int | None = None
    handle_in: int | None = None
    handle_out: int | None = None


def parse_field(name: str, value: str) -> int | None:
    """One form field as an int (empty: not said); raises a 422 naming the field."""
    text = value.strip()
    if not text:
        return None
    try:
        number = int(text)
    except ValueError as exc:
        raise Unprocessable(f"{name} must be a whole number of frames, not '{value}'.", field=name) from exc
    low = -MAX_FRAME if name == "first_frame" else (1 if name == "frame_count" else 0)
    if not low <= number <= MAX_FRAME:
        raise Unprocessable(f"{name} must be between {low} and {MAX_FRAME:,}, not {number}.", field=name)
    return number


def from_fields(fields: Mapping[str, str]) -> MediaExtent:
    return MediaExtent(**{name: parse_field(name, fields[name]) for name in FIELDS if name in fields})


def probed_frames(files: Sequence[Any]) -> int | None:
    """Frames of the first movie among the files (PyAV's count, in `media`), None when there is none."""
    for received in files:
        facts = received.media if isinstance(received.media, Mapping) else {}
        if facts.get("kind") == "video" and isinstance(facts.get("frames"), int) and facts["frames"] > 0:
            return int(facts["frames"])
    return None


@dataclass(frozen=True)
class Resolved:
    first_frame: int | None
    frame_count: int | None
    handle_in: int
    handle_out: int


def resolve(stated: MediaExtent, files: Sequence[Any]) -> Resolved:
    """The extent to store: the maker's word, the probe for the frame count, no handles unless stated.

    A stated frame count that disagrees with the movie, or handles that leave no frame for the cut, are
    refused naming the field."""
    probed = probed_frames(files)
    frames = stated.frame_count if stated.frame_count is not None else probed
    if stated.frame_count is not None and probed is not None and stated.frame_count != probed:
        raise Unprocessable(
            f"frame_count says {stated.frame_count} frames but the movie has {probed}.", field="frame_count"
        )
    head, tail = stated.handle_in or 0, stated.handle_out or 0
    if frames is not None and head + tail >= frames:
        field = "handle_in" if stated.handle_in else "handle_out"
        raise Unprocessable(
            f"handles of {head} + {tail} frames leave nothing of a {frames}-frame movie for the cut.",
            field=field,
        )
    return Resolved(stated.first_frame, frames, head, tail)
