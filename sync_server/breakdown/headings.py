"""The place and time of day in a scene heading, in English and Korean.

`THEO'S BEDROOM - NIGHT (1973)` -> place `THEO'S BEDROOM`, time `NIGHT`, notes `1973`. The time of day
is only ever one of the known words (`DAY`, `NIGHT`, `DUSK`, `밤`, `새벽`, ...); `CONTINUOUS`, `LATER`,
`[잠시 후]`, a year or any other note in brackets is a note, never a time; a scene marked as going on
from the one before (`CONTINUOUS`, `MOMENTS LATER`, `연속`) takes that scene's time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Known times of day, upper case (Korean as written). A modifier before one (`EARLY MORNING`,
# `늦은 밤`) is allowed and dropped, so that one place at one time is one environment.
TIMES = frozenset(
    {
        "DAY", "NIGHT", "MORNING", "AFTERNOON", "EVENING", "DUSK", "DAWN", "SUNSET", "SUNRISE",
        "NOON", "MIDDAY", "MIDNIGHT", "TWILIGHT", "DAYBREAK", "NIGHTFALL", "DAYTIME", "NIGHTTIME",
        "MAGIC HOUR", "GOLDEN HOUR", "BLUE HOUR", "FIRST LIGHT", "LUNCHTIME",
        "낮", "밤", "아침", "저녁", "새벽", "오전", "오후", "정오", "자정", "한낮", "한밤", "한밤중", "심야",
        "해질녘", "해 질 녘", "해질 무렵", "저물녘", "황혼", "노을", "초저녁", "동틀 녘", "동틀녘", "일출",
        "일몰", "점심", "밤중", "새벽녘", "아침녘",
    }
)  # fmt: skip
_MODIFIERS = frozenset(
    {
        "EARLY", "LATE", "MID", "MID-", "THAT", "LATER", "NEXT", "THE", "SAME", "ONE", "EVERY", "DEAD", "OF",
        "늦은", "이른", "깊은", "다음날", "다음", "날", "그날", "그", "같은", "이튿날", "어느",
    }
)  # fmt: skip
# Notes saying the scene goes on from the previous one: it keeps that scene's time of day.
CONTINUING = frozenset(
    {
        "CONTINUOUS", "CONT.", "CONT", "CONT'D", "CONTINUED", "SAME", "SAME TIME", "SIMULTANEOUS",
        "LATER", "MOMENTS LATER", "A MOMENT LATER", "SECONDS LATER", "MINUTES LATER", "SHORTLY AFTER",
        "연속", "계속", "이어서", "잠시 후", "잠시후", "동시", "같은 시각", "직후", "조금 후",
    }
)  # fmt: skip
# Words that are notes wherever they stand (a heading part that is one of these is not the place).
NOTES = CONTINUING | frozenset(
    {
        "FLASHBACK", "FLASH BACK", "END FLASHBACK", "BACK TO PRESENT", "PRESENT", "PRESENT DAY", "DREAM",
        "DREAM SEQUENCE", "FANTASY", "MONTAGE", "SERIES OF SHOTS", "INTERCUT", "INTERCUT WITH", "B&W",
        "BLACK AND WHITE", "SLOW MOTION", "RAIN",
        "회상", "과거", "현재", "꿈", "몽타주", "인서트", "플래시백", "상상",
    }
)  # fmt: skip
_BRACKETS = re.compile(r"\s*[(\[]([^()\[\]]*)[)\]]\s*")
_DASHES = re.compile(r"\s+(?:-{1,2}|[–—])\s*|\s*(?:-{1,2}|[–—])\s+|\s*(?:--|[–—])\s*")
_SOFT = re.compile(r"\s*[/,]\s*|-|\s+")
_SOFTER = re.compile(r"\s*[/,]\s*|-")
_HANGUL = re.compile(r"[가-힣]")
_YEAR = re.compile(r"^(?:1[0-9]|2[0-9])\d\d(?:년|s)?$|^\d{1,4}\s*(?:년|AD|BC|B\.C\.|A\.D\.)$", re.IGNORECASE)


@dataclass
class Heading:
    location: str
    time_of_day: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def continuing(self) -> bool:
        return any(_key(note) in CONTINUING for note in self.notes)


def _key(text: str) -> str:
    return " ".join(text.replace("’", "'").strip().rstrip(".:").upper().split())


def known_time(text: str) -> str:
    """The known time of day `text` names, as written (`Late Night` -> `Night`), or ""."""
    words = text.strip().rstrip(".").split()
    while words:
        if _key(" ".join(words)) in TIMES:
            return " ".join(words)
        if _key(words[0]) not in _MODIFIERS:
            return ""
        words = words[1:]
    return ""


def is_note(text: str) -> bool:
    return _key(text) in NOTES or bool(_YEAR.match(text.strip()))


def split_heading(text: str) -> Heading:
    """The place, the time of day and the notes of a heading without its INT./EXT. or S# prefix."""
    notes: list[str] = []
    time = ""
    body = text.strip().rstrip(".")
    parts: list[tuple[str, bool]] = []  # (text, in brackets), in the heading's order
    start = 0
    for match in _BRACKETS.finditer(body):
        parts += [(p, False) for p in _DASHES.split(body[start : match.start()])]
        parts.append((" ".join(match.group(1).split()), True))
        start = match.end()
    parts += [(p, False) for p in _DASHES.split(body[start:])]
    location: list[str] = []
    for part, bracketed in ((p.strip(), b) for p, b in parts if p and p.strip()):
        found = known_time(part)
        if found and not time:
            time = found
        elif bracketed or time or is_note(part):
            notes.append(part)  # a bracket, after the time, or a known note: not part of the place
        else:
            location.append(part)
    if not time and location:
        # `골목길/밤`, `PARK, NIGHT`, `학교 복도 낮`: the time after a softer separator ends the place.
        last = location[-1]
        pieces = _SOFT.split(last)
        if len(pieces) < 2 or not _HANGUL.search(pieces[-1]):
            pieces = _SOFTER.split(last)  # a space before an English word is part of the place
        if len(pieces) > 1 and known_time(pieces[-1]):
            time = known_time(pieces[-1])
            location[-1] = last[: last.rstrip().rfind(pieces[-1])].rstrip(" /,-")
            if not location[-1]:
                location.pop()
    return Heading(" - ".join(location), time, notes)
