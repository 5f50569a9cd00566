"""Reel names for EDLs: at most 8 characters of [A-Za-z0-9], made from shot codes, unique in one edit.

CMX 3600 reels are short and ASCII; shot codes may be long or Korean (`샷_0010`). The full code goes into
the event's `* FROM CLIP NAME:` comment, so nothing is lost.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

REEL_LEN = 8
_NOT_REEL = re.compile(r"[^A-Za-z0-9]")


def reel_base(code: str, fallback_number: int | None = None) -> str:
    """The reel for one code: its ASCII letters and digits, keeping the end (the shot number) if too long."""
    text = _NOT_REEL.sub("", code)
    if not text:
        digits = "".join(ch for ch in code if ch.isdigit() and ch.isascii())
        text = f"S{digits or (fallback_number if fallback_number is not None else 0)}"
    if len(text) > REEL_LEN:
        # SHT_0010 -> SHT0010; A_VERY_LONG_0010 -> AVE00010: the number part matters most
        head = re.match(r"[A-Za-z]*", text).group(0)  # type: ignore[union-attr]
        tail = text[len(head) :]
        keep_head = max(0, REEL_LEN - len(tail))
        text = (head[:keep_head] + tail)[-REEL_LEN:]
    return text.upper()


def reel_names(codes: Iterable[str]) -> list[str]:
    """Reel names for `codes` in order; a clash gets a counter in its last characters."""
    taken: set[str] = set()
    out: list[str] = []
    for index, code in enumerate(codes):
        reel = reel_base(code, index + 1)
        counter = 1
        candidate = reel
        while candidate in taken:
            suffix = str(counter)
            candidate = reel[: REEL_LEN - len(suffix)] + suffix
            counter += 1
        taken.add(candidate)
        out.append(candidate)
    return out
