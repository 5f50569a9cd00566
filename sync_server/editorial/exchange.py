"""Writing and reading the edit through OpenTimelineIO's adapters: otio_json, cmx_3600 and fcp_xml.

What the adapters do not do, done here:
- the CMX 3600 writer ignores `Timeline.global_start_time` (record timecode would start at 00:00:00:00):
  the track is given a source range that starts at minus the record start, which the writer honours;
- the FCP XML writer marks every timecode NDF: at 29.97 / 59.94 timeline and media say DF, like the EDL;
- the CMX 3600 writer writes no `FCM:` line: it is added after the title (DROP FRAME at 29.97 / 59.94);
- the FCP XML writer leaves the sequence's `<format/>` empty: it is filled with the project's frame size
  and rate, which editing software reads as the sequence settings.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from fractions import Fraction

import opentimelineio as otio
from opentimelineio.opentime import TimeRange

from ..input_guard import json_depth_error
from .timeline import META, is_drop_frame, rate_of

FORMATS = ("otio", "cmx_3600", "fcp_xml")
ADAPTERS = {"otio": "otio_json", "cmx_3600": "cmx_3600", "fcp_xml": "fcp_xml"}
EXTENSIONS = {"otio": "otio", "cmx_3600": "edl", "fcp_xml": "xml"}
MEDIA_TYPES = {"otio": "application/json", "cmx_3600": "text/plain", "fcp_xml": "application/xml"}


class ExchangeError(ValueError):
    """A file the adapter could not read, with the adapter's reason."""


@dataclass(frozen=True)
class Written:
    text: str
    media_type: str
    extension: str


def write(timeline: otio.schema.Timeline, fmt: str) -> Written:
    """The timeline as text in `fmt` (one of FORMATS)."""
    if fmt == "cmx_3600":
        if not any(track.find_clips() for track in timeline.video_tracks()):
            # OTIO's EDL writer fails on a track with no clip; an edit with no shot yet is a title alone.
            text = _with_fcm(f"TITLE: {timeline.name}\n", timeline)
        else:
            text = _with_fcm(
                otio.adapters.write_to_string(_with_record_start(timeline), "cmx_3600", reelname_len=8),
                timeline,
            )
    elif fmt == "fcp_xml":
        text = _with_format(otio.adapters.write_to_string(timeline, "fcp_xml"), timeline)
    else:
        text = otio.adapters.write_to_string(timeline, ADAPTERS[fmt])
    return Written(text, MEDIA_TYPES[fmt], EXTENSIONS[fmt])


def _rate(timeline: otio.schema.Timeline) -> Fraction:
    return Fraction(str((timeline.metadata.get(META) or {}).get("fps", "24")))


def _with_fcm(text: str, timeline: otio.schema.Timeline) -> str:
    """The `FCM:` line after the title: how the EDL's timecodes count (the writer always uses DF at the
    drop-frame rates)."""
    rate = _rate(timeline)
    fcm = "FCM: DROP FRAME" if is_drop_frame(rate.numerator, rate.denominator) else "FCM: NON-DROP FRAME"
    lines = text.split("\n")
    at = 1 if lines and lines[0].startswith("TITLE:") else 0
    return "\n".join([*lines[:at], fcm, *lines[at:]])


def _with_format(text: str, timeline: otio.schema.Timeline) -> str:
    """The sequence's `<format>`: frame size, square pixels, progressive, and the rate (timebase + ntsc)."""
    meta = timeline.metadata.get(META) or {}
    if "width" not in meta or "<format/>" not in text:
        return text
    rate = _rate(timeline)
    ntsc = rate.denominator == 1001
    timebase = math.ceil(rate) if ntsc else rate
    fields = (
        f"<rate><timebase>{timebase}</timebase><ntsc>{'TRUE' if ntsc else 'FALSE'}</ntsc></rate>"
        f"<width>{int(meta['width'])}</width><height>{int(meta['height'])}</height>"
        "<anamorphic>FALSE</anamorphic><pixelaspectratio>square</pixelaspectratio>"
        "<fielddominance>none</fielddominance>"
    )
    # only the first: the sequence's own (the writer leaves clips' files without one)
    return text.replace(
        "<format/>", f"<format><samplecharacteristics>{fields}</samplecharacteristics></format>", 1
    )


def _with_record_start(timeline: otio.schema.Timeline) -> otio.schema.Timeline:
    """A copy whose track starts at minus the record start, so the EDL's record timecodes start there."""
    shifted = copy.deepcopy(timeline)
    start = timeline.global_start_time
    if start is None:
        return shifted
    for track in shifted.tracks:
        track.source_range = TimeRange(-start, track.duration())
    return shifted


MAX_OTIO_DEPTH = 64  # a real timeline nests a few levels; the C++ reader must never meet 5,000


def read(text: str, fmt: str, num: int, den: int) -> otio.schema.Timeline:
    """Parse `text` in `fmt`; EDLs carry no rate, so they are read at the project's exact rate."""
    if fmt == "otio" and json_depth_error(text.encode("utf-8", "surrogatepass"), MAX_OTIO_DEPTH) is not None:
        raise ExchangeError(f"the otio file is nested deeper than {MAX_OTIO_DEPTH} levels")
    try:
        if fmt == "cmx_3600":
            found = otio.adapters.read_from_string(text, "cmx_3600", rate=rate_of(num, den))
        else:
            found = otio.adapters.read_from_string(text, ADAPTERS[fmt])
    except Exception as exc:  # the adapters raise many kinds; the user needs the reason, not the type
        raise ExchangeError(f"could not read the {fmt} file: {exc}") from exc
    if not isinstance(found, otio.schema.Timeline):
        kind = getattr(found, "schema_name", lambda: type(found).__name__)()
        raise ExchangeError(f"the {fmt} file holds a {kind}, not a Timeline")
    return found


def record_offset(timeline: otio.schema.Timeline, num: int, den: int) -> int:
    """Frames between 00:00:00:00 and where the first event sits (the record start), as read back."""
    rate = rate_of(num, den)
    tracks = timeline.video_tracks()
    if tracks and tracks[0].source_range is not None:
        return -round(tracks[0].source_range.start_time.rescaled_to(rate).value)
    if timeline.global_start_time is not None:
        return round(timeline.global_start_time.rescaled_to(rate).value)
    return 0
