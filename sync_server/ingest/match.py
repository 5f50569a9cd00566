"""Which shot a scan belongs to: by a name pattern, or by an EDL (CMX 3600, read with OpenTimelineIO)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import opentimelineio as otio

from .scan import Found


class EdlError(ValueError):
    """An EDL that cannot be read; the message names the file."""


@dataclass(frozen=True)
class EdlEvent:
    number: int
    clip: str  # FROM CLIP NAME (or the reel when there is none)
    reel: str
    shot_code: str | None
    source_in: str
    source_out: str


def _key(text: str) -> str:
    """A clip or scan name compared without case, frame-number marks or extension."""
    base = Path(text).name.casefold()
    base = re.sub(r"\.(exr|dpx|png|jpe?g|tiff?|mov|mp4|mxf|mkv|avi|webm)$", "", base)
    return re.sub(r"[#@%]+.*$|\.\d+d$|[._\- ]+$", "", base).rstrip("._- ")


class ShotMatcher:
    """Finds shot codes in names: a configured regex with a `shot` group, or any existing code as a word."""

    def __init__(self, codes: list[str], pattern: str | None = None) -> None:
        self.codes = {code.casefold(): code for code in codes}
        self.pattern = re.compile(pattern) if pattern else None
        if self.pattern is not None and "shot" not in self.pattern.groupindex:
            raise re.error(f"{pattern!r} has no named group 'shot', e.g. (?P<shot>SH\\d+)")
        alternation = "|".join(re.escape(c) for c in sorted(codes, key=len, reverse=True))
        self.words = re.compile(rf"(?<![A-Za-z0-9])({alternation})(?![A-Za-z0-9])", re.I) if codes else None

    def code_in(self, text: str) -> str | None:
        if self.pattern is not None:
            found = self.pattern.search(text)
            return self.codes.get(found.group("shot").casefold()) if found else None
        found = self.words.search(text) if self.words else None
        return self.codes.get(found.group(1).casefold()) if found else None

    def for_scan(self, scan: Found, root: Path) -> str | None:
        """The file name first, then the folders below the ingest root."""
        code = self.code_in(scan.name)
        if code:
            return code
        try:
            relative = scan.folder.relative_to(root) if root.is_dir() else Path()
        except ValueError:
            relative = Path()
        return self.code_in(str(relative))


def read_edl(path: Path, fps_num: int, fps_den: int, matcher: ShotMatcher) -> list[EdlEvent]:
    """The EDL's events at the project's exact rate (24000/1001, not 23.976: OTIO's SMPTE timecode
    accepts only the exact NTSC rates), each with the shot code its names carry."""
    fps = fps_num / fps_den
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
        timeline = otio.adapters.read_from_string(text, adapter_name="cmx_3600", rate=fps)
    except Exception as exc:  # the adapter raises many kinds of errors for a bad file
        raise EdlError(f"{path.name} is not a readable CMX 3600 EDL: {exc}") from exc
    # timecodes are shown as the EDL counts them: its FCM line, else drop-frame at 29.97 / 59.94
    fcm = re.search(r"^FCM:\s*(NON-DROP|DROP)", text, re.M | re.I)
    drop_rate = fps_den == 1001 and fps_num in (30000, 60000)
    drop = fcm.group(1).upper() == "DROP" if fcm is not None and drop_rate else None
    events = []
    for number, clip in enumerate(timeline.find_clips(), start=1):
        meta: dict[str, Any] = dict(clip.metadata.get("cmx_3600", {}))
        reel = str(meta.get("reel", ""))
        texts = [clip.name, reel, *[m.name for m in clip.markers], *map(str, meta.get("comments", []))]
        code = next((c for c in (matcher.code_in(t) for t in texts if t) if c), None)
        source = clip.source_range
        events.append(
            EdlEvent(
                number,
                clip.name or reel,
                reel,
                code,
                otio.opentime.to_timecode(source.start_time, fps, drop) if source else "",
                otio.opentime.to_timecode(source.end_time_exclusive(), fps, drop) if source else "",
            )
        )
    return events


def match_edl(scan: Found, events: list[EdlEvent]) -> EdlEvent | None:
    """The event whose clip name (or reel) is this scan's name."""
    wanted = {_key(scan.name), _key(scan.stem)}
    for event in events:
        if _key(event.clip) in wanted or (event.reel and _key(event.reel) in wanted):
            return event
    return None
