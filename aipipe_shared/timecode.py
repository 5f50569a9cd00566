"""SMPTE timecode at an exact frame rate, drop-frame at 29.97 and 59.94 (as the EDL and XML write it), for
the parts that have no OpenTimelineIO (the render agent's burn-ins). tests/unit/test_timecode.py reads every
result against OpenTimelineIO's."""

from __future__ import annotations

import re
from fractions import Fraction

DROP_FRAME_RATES = (Fraction(30000, 1001), Fraction(60000, 1001))
_TIMECODE = re.compile(r"^(\d{1,3}):(\d\d):(\d\d)[:;.](\d\d)$")


def is_drop_frame(rate: Fraction) -> bool:
    """29.97 and 59.94 are written as drop-frame timecode, in the EDL and in the XML alike."""
    return rate in DROP_FRAME_RATES


def _counts(rate: Fraction) -> tuple[int, int]:
    """(frames a nominal second, frame numbers dropped each minute but every tenth)."""
    nominal = max(1, round(rate))
    return nominal, (nominal // 15 if is_drop_frame(rate) else 0)


def timecode_frames(text: str, rate: Fraction) -> int:
    """The frame `HH:MM:SS:FF` names at `rate` (drop-frame at 29.97 and 59.94, whichever separator it
    uses, as the EDL reads a record start); ValueError naming the text when it is not one."""
    match = _TIMECODE.match(text.strip())
    nominal, drop = _counts(rate)
    if not match:
        raise ValueError(f"timecode {text!r}: HH:MM:SS:FF is expected")
    hh, mm, ss, ff = (int(part) for part in match.groups())
    if mm > 59 or ss > 59 or ff >= nominal:
        raise ValueError(f"timecode {text!r}: not a time at {rate} fps")
    if drop and ss == 0 and mm % 10 and ff < drop:
        raise ValueError(f"timecode {text!r}: a frame number drop-frame timecode skips")
    minutes = 60 * hh + mm
    return (60 * minutes + ss) * nominal + ff - drop * (minutes - minutes // 10)


def frames_timecode(frames: int, rate: Fraction) -> str:
    """Frame `frames` as `HH:MM:SS:FF` (`HH:MM:SS;FF` at drop-frame rates), on a 24-hour clock."""
    if frames < 0:
        raise ValueError(f"frame {frames}: timecode starts at frame 0")
    nominal, drop = _counts(rate)
    if drop:
        per_ten = 600 * nominal - 9 * drop
        per_minute = 60 * nominal - drop
        tens, rest = divmod(frames, per_ten)
        frames += 9 * drop * tens + (drop * ((rest - drop) // per_minute) if rest > drop else 0)
    seconds, ff = divmod(frames, nominal)
    minutes, ss = divmod(seconds, 60)
    hh, mm = divmod(minutes, 60)
    hh %= 24
    return f"{hh:02d}:{mm:02d}:{ss:02d}{';' if drop else ':'}{ff:02d}"


def timecode_after(text: str, frames: int, rate: Fraction) -> str:
    """The timecode `frames` after `text` at `rate` (drop-frame written with ';')."""
    return frames_timecode(timecode_frames(text, rate) + frames, rate)
