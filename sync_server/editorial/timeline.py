"""The edit as an OpenTimelineIO timeline: one clip per shot on one video track, at the project's exact rate.

Rates stay exact: 23.976 is 24000/1001 and every time is a whole number of frames at that rate.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
from opentimelineio.opentime import RationalTime, TimeRange

from aipipe_shared import timecode

from .reels import reel_names

DEFAULT_RECORD_START = "01:00:00:00"
META = "aipipe"
MISSING_COMMENT = "AIPIPE MISSING FRAMES:"  # EDL comment on a clip whose movie is shorter than the cut


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
    handle_in: int = 0  # head handle frames the movie holds before the cut (the version's extent)
    handle_out: int = 0
    first_frame: int | None = None  # the number of the media's first frame, as its maker numbered it
    rate_frames: int | None = None  # `frames` at the project's rate (a 16 fps render has fewer)


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
    source_override: int | None = None  # the first media frame a caller's cut uses (the VSE's strip)

    @property
    def source_in(self) -> int:
        """First frame used from the media: a movie skips the head handle *it holds* (its version's
        extent, not the project's handle), a still starts at 0."""
        if self.media is None or self.media.still:
            return 0
        return self.media.handle_in if self.source_override is None else self.source_override

    @property
    def available(self) -> int | None:
        """Frames of the movie from `source_in` on, at the project's rate; None: still, slate, unknown."""
        if self.media is None or self.media.still or self.media.rate_frames is None:
            return None
        return max(0, self.media.rate_frames - self.source_in)

    @property
    def missing(self) -> int:
        """Frames the cut needs beyond the end of the movie (a version shorter than the cut)."""
        available = self.available
        return 0 if available is None else max(0, self.duration - available)

    @property
    def warning(self) -> str | None:
        """What an editor must hear about this shot's media, naming the shot; None: nothing."""
        if not self.missing or self.media is None:
            return None
        return (
            f"{self.code}: {self.media_label} ({self.media.name}) has {self.available} frames from frame "
            f"{self.source_in} on; the cut needs {self.duration}: {self.missing} frames missing"
        )

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
    name: str,
    shots: list[EditShot],
    num: int,
    den: int,
    record_start: str = DEFAULT_RECORD_START,
    size: tuple[int, int] | None = None,
) -> otio.schema.Timeline:
    """One clip per shot; the clip is named with the shot code, its media with the versioned file name.
    `size` (the project's frame size) is what the FCP XML's sequence format says."""
    rate = rate_of(num, den)
    timeline = otio.schema.Timeline(name=name, global_start_time=parse_record_start(record_start, num, den))
    timeline.metadata[META] = {"fps": f"{num}/{den}", "record_start": record_start}
    if size is not None:
        timeline.metadata[META].update(width=size[0], height=size[1])
    if is_drop_frame(num, den):
        # fcp_xml writes NDF unless told otherwise; the EDL writer always uses DF at these rates.
        timeline.metadata["fcp_xml"] = {"timecode": _fcp_timecode_meta(num, den)}
    warnings = [w for w in (s.warning for s in shots) if w]
    if warnings:
        timeline.metadata[META]["warnings"] = warnings
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    timeline.tracks.append(track)
    for shot, reel in zip(shots, reel_names(s.code for s in shots), strict=True):
        # A movie shorter than the cut: the clip uses what the movie has and a gap (black, named for the
        # shot) keeps every later shot where the shot list puts it. Never a range past the file's end.
        used = shot.duration - shot.missing
        clip = otio.schema.Clip(
            name=shot.code,
            media_reference=_reference(shot, rate, num, den),
            source_range=TimeRange(RationalTime(shot.source_in, rate), RationalTime(used, rate)),
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
        if shot.missing:
            clip.metadata[META]["missing_frames"] = shot.missing
            note = f"{MISSING_COMMENT} {shot.missing} ({shot.warning})"
            clip.metadata["cmx_3600"]["comments"] = [note]
            clip.metadata["fcp_xml"] = {"comments": {"mastercomment1": note}}  # FCP 7's clip comment
        if used > 0:
            track.append(clip)
        if shot.missing:
            gap = otio.schema.Gap(
                name=f"{shot.code} missing", source_range=TimeRange(duration=RationalTime(shot.missing, rate))
            )
            gap.metadata[META] = {"shot_id": str(shot.shot_id), "shot_code": shot.code, "missing": True}
            track.append(gap)
    return timeline


def _reference(shot: EditShot, rate: float, num: int, den: int) -> otio.core.MediaReference:
    media = shot.media
    if media is None or media.path is None:
        reference: otio.core.MediaReference = otio.schema.MissingReference(
            name=media.name if media is not None else f"{shot.code}_slate",
            available_range=TimeRange(RationalTime(0, rate), RationalTime(shot.duration, rate)),
        )
    else:
        # what the file holds: a still is held for the shot; an unknown length is taken to cover the cut
        length = (
            shot.duration
            if media.still
            else media.rate_frames
            if media.rate_frames is not None
            else shot.source_in + shot.duration
        )
        reference = otio.schema.ExternalReference(
            target_url=media.path.as_uri(),
            available_range=TimeRange(RationalTime(0, rate), RationalTime(length, rate)),
        )
        reference.name = media.name
    if is_drop_frame(num, den):
        reference.metadata["fcp_xml"] = {"timecode": _fcp_timecode_meta(num, den)}
    return reference


def is_drop_frame(num: int, den: int) -> bool:
    """29.97 and 59.94 are written as drop-frame timecode, in the EDL and in the XML alike (the agent's
    burn-ins too: aipipe_shared.timecode)."""
    return timecode.is_drop_frame(Fraction(num, den))


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
    """The clips of the first video track in order, in whole frames at the project's rate.

    A gap this server wrote after a clip whose movie was shorter than the cut (OTIO metadata, or the EDL's
    `AIPIPE MISSING FRAMES` comment on the clip) counts as part of that clip's shot, so an export of such
    an edit reads back with the shot list's lengths."""
    rate = rate_of(num, den)
    tracks = [t for t in timeline.video_tracks()]
    if not tracks:
        return []
    track = tracks[0]
    out: list[Cut] = []
    pending = 0  # frames the previous clip said it is missing
    for child in track:
        frames = round(child.trimmed_range().duration.rescaled_to(rate).value)
        if isinstance(child, otio.schema.Gap):
            meta = child.metadata.get(META) or {}
            if (
                out
                and pending
                and (frames == pending or (meta.get("missing") and meta.get("shot_id") == out[-1].shot_id))
            ):
                out[-1] = dataclasses.replace(out[-1], duration=out[-1].duration + frames)
            elif meta.get("missing") and meta.get("shot_code"):
                placed = track.range_of_child(child)
                out.append(
                    Cut(
                        name=str(meta["shot_code"]),
                        reel="",
                        record_in=round(placed.start_time.rescaled_to(rate).value),
                        duration=frames,
                        source_in=0,
                        media_url=None,
                        shot_id=meta.get("shot_id"),
                    )
                )
            pending = 0
            continue
        if not isinstance(child, otio.schema.Clip):
            pending = 0
            continue
        placed = track.range_of_child(child)
        source = child.trimmed_range()
        reference = child.media_reference
        url = getattr(reference, "target_url", None) if reference is not None else None
        meta = child.metadata.get(META) or {}
        out.append(
            Cut(
                name=child.name,
                reel=str((child.metadata.get("cmx_3600") or {}).get("reel", "")),
                record_in=round(placed.start_time.rescaled_to(rate).value),
                duration=frames,
                source_in=round(source.start_time.rescaled_to(rate).value),
                media_url=url,
                shot_id=meta.get("shot_id"),
            )
        )
        pending = _missing_of(child)
    if out and pending:  # the EDL writes no event for a gap at the end: the last shot's missing frames
        out[-1] = dataclasses.replace(out[-1], duration=out[-1].duration + pending)
    return out


def _missing_of(clip: otio.schema.Clip) -> int:
    """Frames a clip of ours said its movie lacks: OTIO metadata, else the EDL comment."""
    meta = clip.metadata.get(META) or {}
    if isinstance(meta.get("missing_frames"), int):
        return int(meta["missing_frames"])
    comments = [
        *((clip.metadata.get("cmx_3600") or {}).get("comments") or []),
        *((clip.metadata.get("fcp_xml") or {}).get("comments") or {}).values(),
    ]
    for comment in comments:
        found = re.search(re.escape(MISSING_COMMENT) + r"\s*(\d+)", str(comment))
        if found:
            return int(found.group(1))
    return 0
