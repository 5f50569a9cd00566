"""What a parsed screenplay is, whatever its format: scenes of action, dialogue and transitions.

The Fountain and Korean parsers both produce a `Script`; the deterministic engine reads only this.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from .headings import Heading

Format = Literal["fountain", "korean", "prose"]
NoteTo = Literal["previous", "next"]


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
    """A camera/edit note (`CUT TO:`, `FADE IN:`, `SUPER: 1973`): never a shot, noted on a neighbour."""

    text: str
    line: int
    to: NoteTo = "previous"  # the shot it belongs to: the one before (`CUT TO:`) or after (`FADE IN:`)
    card: bool = False  # a title card (`SUPER:`), not a cut: it does not end the shot before it


Element = Action | Dialogue | Transition


@dataclass
class ScriptScene:
    heading: str
    line: int
    number: str = ""  # as written (`12A`), or "" when the script does not number scenes
    int_ext: str = ""  # INT, EXT, INT/EXT, or the Korean 실내/실외
    location: str = ""
    time_of_day: str = ""
    notes: list[str] = field(default_factory=list)  # heading notes: `1973`, `CONTINUOUS`, `회상`
    synopsis: str = ""
    elements: list[Element] = field(default_factory=list)


@dataclass
class Script:
    format: Format
    title: str = ""
    title_page: dict[str, str] = field(default_factory=dict)  # see `title_page.py`
    scenes: list[ScriptScene] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # [[notes]] and similar, kept out of the content
    cast: dict[str, str] = field(default_factory=dict)  # a cast list before the first scene: name -> who
    warnings: list[str] = field(default_factory=list)


_SPACES = re.compile(r"[ \t]+")


def clean(text: str) -> str:
    """Collapse runs of spaces and trim; keeps line breaks."""
    return "\n".join(_SPACES.sub(" ", line).strip() for line in text.strip().splitlines()).strip()


def continue_times(script: Script) -> None:
    """A scene going on from the one before (`- CONTINUOUS`, `연속`) with no time of its own takes that
    scene's time."""
    previous = ""
    for scene in script.scenes:
        if not scene.time_of_day and scene.heading and Heading("", "", scene.notes).continuing:
            scene.time_of_day = previous
        previous = scene.time_of_day or previous
