"""The edit as an OpenTimelineIO timeline: one clip per shot on one video track, at the project's exact rate.

Rates stay exact: 23.976 is 24000/1001 and every time is a whole number of frames at that rate.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
from opentimelineio.opentime import RationalTime, TimeRange

from .reels import reel_names

DEFAULT_RECORD_START = "01:00:00:00"
META = "aipipe"


class TimecodeError(ValueError):
    """A record start timecode that cannot be read at the project's rate."""


@dataclass(frozen=True)
class EditMedia:
    """The media a shot shows in the edit: one version's file (or a still) and where it starts."""

    version_id: uuid.UUID
    stage: str
    number: int
    name: str  # versioned file name, e.g. SHT_0010_render_v003.mp4
    path: Path | None  # absolute path on this server, None when the file is missing
    relative: str  # path from the storage root
    still: bool
    frames: int | None = None  # frames in the movie (None: unknown or a still)
    sha256: str = ""
    file_id: uuid.UUID | None = None


@dataclass(frozen=True)
class EditShot:
    """One shot of the edit in shot order."""

    shot_id: uuid.UUID
    code: str
    duration: int
    handle_in: int = 0
    revision: int = 1
    media: EditMedia | None = None
    scene_code: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def source_in(self) -> int:
        """First frame used from the media: movies skip their head handle, stills start at 0."""
        return self.handle_in if self.media is not None and not self.media.still else 0

    @property
    def media_label(self) -> str:
        if self.media is None:
            return "no media"
        return f"{self.media.stage} v{self.media.number:03d}"


def rate_of(num: int, den: int) -> float:
    """The rate OTIO works with; from the exact fraction, so 24000/1001 is exactly what OTIO expects."""
    return num / den


def parse_record_start(text: str, num: int, den: int) -> RationalTime:
    """`01:00:00:00` (or `01:00:00;00` at drop-frame rates) as a time at the project's rate."""
    rate = rate_of(num, den)
    text = text.strip()
    if is_drop_frame(num, den) and ";" not in text:
        # 01:00:00:00 at 29.97 means the drop-frame 01:00:00;00 the EDL and XML will show, not 108000 frames
        text = text[: text.rfind(":")] + ";" + text[text.rfind(":") + 1 :]
    try:
        return RationalTime.from_timecode(text, rate)
    except ValueError as exc:
        raise TimecodeError(
            f"record start '{text}' is not a timecode at {Fraction(num, den)} fps: {exc}"
        ) from exc


def build_timeline(
    name: str, shots: list[EditShot], num: int, den: int, record_start: str = DEFAULT_RECORD_START
) -> otio.schema.Timeline:
    """One clip per shot; the clip is named with the shot code, its media with the versioned file name."""
    rate = rate_of(num, den)
    timeline = otio.schema.Timeline(name=name, global_start_time=parse_record_start(record_start, num, den))
    timeline.metadata[META] = {"fps": f"{num}/{den}", "record_start": record_start}
    if is_drop_frame(num, den):
        # fcp_xml writes NDF unless told otherwise; the EDL writer always uses DF at these rates.
        timeline.metadata["fcp_xml"] = {"timecode": _fcp_timecode_meta(num, den)}
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    timeline.tracks.append(track)
    for shot, reel in zip(shots, reel_names(s.code for s in shots), strict=True):
        clip = otio.schema.Clip(
            name=shot.code,
            media_reference=_reference(shot, rate, num, den),
            source_range=TimeRange(RationalTime(shot.source_in, rate), RationalTime(shot.duration, rate)),
        )
        clip.metadata[META] = {
            "shot_id": str(shot.shot_id),
            "shot_code": shot.code,
            "revision": shot.revision,
            **(
                {
                    "version_id": str(shot.media.version_id),
                    "stage": shot.media.stage,
                    "version": shot.media.number,
                    "media": shot.media.relative,
                }
                if shot.media is not None
                else {}
            ),
        }
        clip.metadata["cmx_3600"] = {"reel": reel}
        track.append(clip)
    return timeline


def _reference(shot: EditShot, rate: float, num: int, den: int) -> otio.core.MediaReference:
    media = shot.media
    if media is None or media.path is None:
        reference: otio.core.MediaReference = otio.schema.MissingReference(
            name=media.name if media is not None else f"{shot.code}_slate",
            available_range=TimeRange(RationalTime(0, rate), RationalTime(shot.duration, rate)),
        )
    else:
        length = media.frames if media.frames else shot.source_in + shot.duration
        reference = otio.schema.ExternalReference(
            target_url=media.path.as_uri(),
            available_range=TimeRange(
                RationalTime(0, rate), RationalTime(max(length, shot.source_in + shot.duration), rate)
            ),
        )
        reference.name = media.name
    if is_drop_frame(num, den):
        reference.metadata["fcp_xml"] = {"timecode": _fcp_timecode_meta(num, den)}
    return reference


def is_drop_frame(num: int, den: int) -> bool:
    """29.97 and 59.94 are written as drop-frame timecode, in the EDL and in the XML alike."""
    return den == 1001 and num in (30000, 60000)


def _fcp_timecode_meta(num: int, den: int) -> dict[str, str]:
    # The adapter takes the rate from the time itself; only the display format must be said.
    return {"displayformat": "DF"}


@dataclass(frozen=True)
class Cut:
    """One event of an edit as read back: its name, reel, where it sits and what it uses."""

    name: str
    reel: str
    record_in: int  # frames from the record start
    duration: int
    source_in: int
    media_url: str | None
    shot_id: str | None = None


def cuts_of(timeline: otio.schema.Timeline, num: int, den: int) -> list[Cut]:
    """The clips of the first video track in order, in whole frames at the project's rate."""
    rate = rate_of(num, den)
    tracks = [t for t in timeline.video_tracks()]
    if not tracks:
        return []
    track = tracks[0]
    out: list[Cut] = []
    for clip in track.find_clips(shallow_search=True):
        placed = track.range_of_child(clip)
        source = clip.trimmed_range()
        reference = clip.media_reference
        url = getattr(reference, "target_url", None) if reference is not None else None
        meta = clip.metadata.get(META) or {}
        out.append(
            Cut(
                name=clip.name,
                reel=str((clip.metadata.get("cmx_3600") or {}).get("reel", "")),
                record_in=round(placed.start_time.rescaled_to(rate).value),
                duration=round(source.duration.rescaled_to(rate).value),
                source_in=round(source.start_time.rescaled_to(rate).value),
                media_url=url,
                shot_id=meta.get("shot_id"),
            )
        )
    return out
