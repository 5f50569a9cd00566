"""Which kind of script a text is, and cutting it into scene-sized pieces for the LLM."""

from __future__ import annotations

import re
from typing import Literal

from .fountain import BONEYARD, NOTE, parse_fountain, read_title_page
from .korean import HEADING as KOREAN_HEADING
from .korean import front_matter, looks_korean, parse_korean
from .script import Format, Script

FormatChoice = Literal["auto", "fountain", "korean", "prose"]
_FOUNTAIN_HEADING = re.compile(r"^\s*(?:INT\.?/EXT|INT/EXT|I/E|INT|EXT|EST)[.\s]", re.IGNORECASE)
_FORCED_HEADING = re.compile(r"^\.[^.\s]")
_TITLE_PAGE = re.compile(r"^\s*Title\s*:", re.IGNORECASE)


def detect_format(text: str, filename: str = "") -> Format:
    """`fountain` for `.fountain` files, a title page or INT./EXT. headings; `korean` for `S#1.`
    headings; else `prose`."""
    if filename.lower().endswith((".fountain", ".spmd")):
        return "fountain"
    if looks_korean(text):
        return "korean"
    lines = text.splitlines()
    if sum(1 for line in lines if _FOUNTAIN_HEADING.match(line)) or (lines and _TITLE_PAGE.match(lines[0])):
        return "fountain"
    return "prose"


def parse(text: str, fmt: Format) -> Script:
    """The structured reading of a Fountain or Korean script; prose has none."""
    if fmt == "fountain":
        return parse_fountain(text)
    if fmt == "korean":
        return parse_korean(text)
    raise ValueError("prose has no structure to parse")


def title_page(text: str, fmt: Format) -> dict[str, str]:
    """The title page alone (for the LLM engine, which reads the rest itself)."""
    if fmt == "fountain":
        lines: list[str | None] = list(BONEYARD.sub("", text).replace("\r\n", "\n").split("\n"))
        return read_title_page(lines)[0]
    if fmt == "korean":
        return front_matter(text).title_page
    return {}


def _is_heading(line: str, fmt: Format) -> bool:
    if fmt == "fountain":
        return bool(_FOUNTAIN_HEADING.match(line) or _FORCED_HEADING.match(line))
    if fmt == "korean":
        return bool(KOREAN_HEADING.match(line))
    return False


def chunks(text: str, fmt: Format, max_chars: int) -> list[str]:
    """The text cut at scene headings (paragraphs for prose) into pieces of at most `max_chars`;
    a single scene longer than that is cut at paragraphs. Fountain's boneyard and notes are left out."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if fmt == "fountain":  # the boneyard and notes are not part of the story
        text = NOTE.sub("", BONEYARD.sub("", text))
    lines = text.split("\n")
    units: list[str] = []
    current: list[str] = []
    for line in lines:
        starts_unit = _is_heading(line, fmt) if fmt != "prose" else False
        if starts_unit and any(x.strip() for x in current):
            units.append("\n".join(current).strip("\n"))
            current = []
        current.append(line)
        if fmt == "prose" and not line.strip() and any(x.strip() for x in current):
            units.append("\n".join(current).strip("\n"))
            current = []
    if any(x.strip() for x in current):
        units.append("\n".join(current).strip("\n"))
    pieces: list[str] = []
    for unit in units:
        if len(unit) <= max_chars:
            pieces.append(unit)
            continue
        paragraphs = [p for p in re.split(r"\n\s*\n", unit) if p.strip()]
        pieces += _pack(paragraphs, max_chars, hard=True)
    return _pack(pieces, max_chars)


def _pack(parts: list[str], max_chars: int, hard: bool = False) -> list[str]:
    packed: list[str] = []
    for part in parts:
        while hard and len(part) > max_chars:
            packed.append(part[:max_chars])
            part = part[max_chars:]
        if packed and len(packed[-1]) + 2 + len(part) <= max_chars:
            packed[-1] = packed[-1] + "\n\n" + part
        else:
            packed.append(part)
    return packed
