"""Writing and reading the edit through OpenTimelineIO's adapters: otio_json, cmx_3600 and fcp_xml.

What the adapters do not do, done here:
- the CMX 3600 writer ignores `Timeline.global_start_time` (record timecode would start at 00:00:00:00):
  the track is given a source range that starts at minus the record start, which the writer honours;
- the FCP XML writer marks every timecode NDF: at 29.97 / 59.94 timeline and media say DF, like the EDL.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import opentimelineio as otio
from opentimelineio.opentime import TimeRange

from .timeline import rate_of

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
        text = otio.adapters.write_to_string(_with_record_start(timeline), "cmx_3600", reelname_len=8)
    else:
        text = otio.adapters.write_to_string(timeline, ADAPTERS[fmt])
    return Written(text, MEDIA_TYPES[fmt], EXTENSIONS[fmt])


def _with_record_start(timeline: otio.schema.Timeline) -> otio.schema.Timeline:
    """A copy whose track starts at minus the record start, so the EDL's record timecodes start there."""
    shifted = copy.deepcopy(timeline)
    start = timeline.global_start_time
    if start is None:
        return shifted
    for track in shifted.tracks:
        track.source_range = TimeRange(-start, track.duration())
    return shifted


def read(text: str, fmt: str, num: int, den: int) -> otio.schema.Timeline:
    """Parse `text` in `fmt`; EDLs carry no rate, so they are read at the project's exact rate."""
    try:
        if fmt == "cmx_3600":
            return otio.adapters.read_from_string(text, "cmx_3600", rate=rate_of(num, den))
        return otio.adapters.read_from_string(text, ADAPTERS[fmt])
    except Exception as exc:  # the adapters raise many kinds; the user needs the reason, not the type
        raise ExchangeError(f"could not read the {fmt} file: {exc}") from exc


def record_offset(timeline: otio.schema.Timeline, num: int, den: int) -> int:
    """Frames between 00:00:00:00 and where the first event sits (the record start), as read back."""
    rate = rate_of(num, den)
    tracks = timeline.video_tracks()
    if tracks and tracks[0].source_range is not None:
        return -round(tracks[0].source_range.start_time.rescaled_to(rate).value)
    if timeline.global_start_time is not None:
        return round(timeline.global_start_time.rescaled_to(rate).value)
    return 0
