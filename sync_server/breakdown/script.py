"""What a parsed screenplay is, whatever its format: scenes of action, dialogue and transitions.

The Fountain and Korean parsers both produce a `Script`; the deterministic engine reads only this.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

Format = Literal["fountain", "korean", "prose"]


@dataclass
class Action:
    text: str
    line: int


@dataclass
class Dialogue:
    character: str  # as written in the cue, extensions removed
    text: str
    line: int
    extension: str = ""  # V.O., O.S., CONT'D, E, NA ...
    parenthetical: str = ""
    dual: bool = False  # spoken at the same time as the previous dialogue (Fountain `^`)


@dataclass
class Transition:
    text: str
    line: int


Element = Action | Dialogue | Transition


@dataclass
class ScriptScene:
    heading: str
    line: int
    number: str = ""  # as written (`12A`), or "" when the script does not number scenes
    int_ext: str = ""  # INT, EXT, INT/EXT, or the Korean 실내/실외
    location: str = ""
    time_of_day: str = ""
    synopsis: str = ""
    elements: list[Element] = field(default_factory=list)


@dataclass
class Script:
    format: Format
    title: str = ""
    scenes: list[ScriptScene] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # [[notes]] and similar, kept out of the content
    cast: dict[str, str] = field(default_factory=dict)  # a cast list before the first scene: name -> who
    warnings: list[str] = field(default_factory=list)


_SPACES = re.compile(r"[ \t]+")


def clean(text: str) -> str:
    """Collapse runs of spaces and trim; keeps line breaks."""
    return "\n".join(_SPACES.sub(" ", line).strip() for line in text.strip().splitlines()).strip()


def split_location_time(text: str) -> tuple[str, str]:
    """`골목길 - 밤` / `ALLEY - NIGHT` / `골목길 (밤)` / `골목길/밤` -> (location, time of day)."""
    text = text.strip().rstrip(".").strip()
    match = re.match(r"^(.*?)\s*\(([^()]+)\)\s*$", text)
    if match and match.group(1).strip():
        return match.group(1).strip(), match.group(2).strip()
    for separator in (" - ", " – ", " — ", "/", " -", "- "):
        if separator in text:
            location, _, time = text.rpartition(separator)
            if location.strip() and time.strip():
                return location.strip(), time.strip()
    return text, ""
