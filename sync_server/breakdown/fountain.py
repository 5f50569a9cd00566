"""A Fountain (https://fountain.io/syntax) reader for what a breakdown needs.

Understood: title page (indented lines go on with the key above), scene headings
(INT./EXT./EST./INT./EXT./I/E, forced `.`, scene numbers `#1A#`), character cues (upper case or forced
`@`, extensions like `(V.O.)`, dual dialogue `^`), parentheticals, dialogue, transitions (`FADE IN:`,
`CUT TO BLACK.`, `... TO:` and forced `>`), title cards (`SUPER:`, `TITLE OVER:`) and centered text,
forced action `!`, sections `#`, synopses `=` (kept as the scene's synopsis), page breaks `===`, notes
`[[...]]` (kept apart) and the boneyard `/* ... */` (dropped). Emphasis markers are removed.

No well-kept Python Fountain library exists (PyPI's `fountain` was last released in 2016), and the
breakdown needs line numbers and dual-dialogue flags, so this is our own small reader.
"""

from __future__ import annotations

import re

from . import title_page
from .edit_notes import card_to, opens, title_card, transition
from .headings import split_heading
from .names import split_cue, strip_emphasis
from .script import Action, Dialogue, Script, ScriptScene, Transition, clean, continue_times

_HEADING = re.compile(r"^(?:INT\.?/EXT|INT/EXT|I/E|INT|EXT|EST)[.\s]", re.IGNORECASE)
_SCENE_NUMBER = re.compile(r"\s*#([\w.\-]+)#\s*$")
_TITLE_KEY = re.compile(r"^([A-Za-z][A-Za-z ]*):\s*(.*)$")
NOTE = re.compile(r"\[\[(.*?)\]\]", re.DOTALL)
BONEYARD = re.compile(r"/\*.*?\*/", re.DOTALL)
# Keys that may open a title page (any key may follow): a script starting `FADE IN:` has none.
_FIRST_KEYS = frozenset(k for k in title_page.FIELDS if k.isascii()) | {"revision", "format"}
SKIP = None  # a line that held only a note: neither content nor a paragraph break
# Page-break marks left by PDF conversions: `CONTINUED:`, `(CONTINUED)`, `CONTINUED: (2)`, `(MORE)`.
_PAGE_MARK = re.compile(r"^\(?(?:CONTINUED|CONT'D|MORE)\)?:?(?:\s*\(\d+\))?$")


def _blank_out(match: re.Match[str]) -> str:
    return "\n" * match.group(0).count("\n")


def _strip_notes(text: str, notes: list[str]) -> list[str | None]:
    """Lines with the boneyard dropped and notes moved to `notes`; line numbers are kept."""
    text = BONEYARD.sub(_blank_out, text)
    lines: list[str | None] = []
    noted: set[int] = set()
    for match in NOTE.finditer(text):
        notes.append(clean(match.group(1)))
        first = text.count("\n", 0, match.start())
        noted.update(range(first, first + match.group(0).count("\n") + 1))
    without = NOTE.sub(_blank_out, text)
    for index, line in enumerate(without.split("\n")):
        lines.append(SKIP if index in noted and not line.strip() else line.rstrip())
    return lines


def _text(line: str) -> str:
    return strip_emphasis(line).strip()


def _is_character(line: str) -> bool:
    body = line.strip()
    if body.startswith("@"):
        return len(body) > 1
    name = split_cue(body.rstrip("^"))[0]
    if not name or len(name) > 50 or name.endswith((":", "TO:")):
        return False
    return name == name.upper() and any(ch.isupper() for ch in name)


def _cue(line: str) -> tuple[str, str, bool]:
    """`@McCLANE (V.O.) (CONT'D) ^` -> ("McCLANE", "V.O.", True); emphasis around the name is dropped."""
    body = line.strip().lstrip("@").strip()
    dual = body.endswith("^")
    name, extensions, other = split_cue(body.rstrip("^").strip())
    return name, ", ".join([*extensions, *other]), dual


def _heading(line: str, number: int) -> ScriptScene:
    raw = strip_emphasis(line.strip())
    if raw.startswith(".") and not raw.startswith(".."):
        raw = raw[1:].strip()
    scene_number = ""
    found = _SCENE_NUMBER.search(raw)
    if found:
        scene_number = found.group(1)
        raw = raw[: found.start()].strip()
    int_ext, rest = "", raw
    prefix = re.match(r"^(INT\.?/EXT\.?|INT/EXT|I/E|INT\.?|EXT\.?|EST\.?)\s*", raw, re.IGNORECASE)
    if prefix:
        int_ext = prefix.group(1).rstrip(".").upper()
        rest = raw[prefix.end() :]
    place = split_heading(rest)
    return ScriptScene(
        heading=raw,
        line=number,
        number=scene_number,
        int_ext=int_ext,
        location=place.location,
        time_of_day=place.time_of_day,
        notes=place.notes,
    )


def read_title_page(lines: list[str | None]) -> tuple[dict[str, str], int]:
    """The title page (keys as `title_page.field_of` names them, values with their line breaks) and the
    index of the first line after it."""
    first = next((i for i, line in enumerate(lines) if line is not None and line.strip()), None)
    match = _TITLE_KEY.match(lines[first] or "") if first is not None else None
    if first is None or match is None or title_page.field_of(match.group(1)) not in _FIRST_KEYS:
        return {}, 0
    raw: list[tuple[str, str]] = []
    index = first
    while index < len(lines):
        line = lines[index]
        if line is None:
            index += 1
            continue
        if not line.strip():
            break
        match = _TITLE_KEY.match(line)
        if match and not line.startswith((" ", "\t")):
            raw.append((match.group(1), match.group(2)))
        elif raw:  # an indented line goes on with the key above it
            raw[-1] = (raw[-1][0], raw[-1][1] + "\n" + line.strip())
        index += 1
    page: dict[str, str] = {}
    for key, value in raw:
        title_page.add(page, key, value)
    return page, index


def parse_fountain(text: str) -> Script:
    """Parse Fountain text into scenes of action, dialogue and transitions."""
    script = Script(format="fountain")
    lines = _strip_notes(text.replace("\r\n", "\n").replace("\r", "\n"), script.notes)
    script.title_page, start = read_title_page(lines)
    script.title = title_page.one_line(script.title_page.get("title", ""))
    scene: ScriptScene | None = None
    dialogue: Dialogue | None = None
    card: Transition | None = None  # a title card whose text goes on on the next lines
    previous_blank = True
    pending_synopsis = ""
    opening: list[Transition] = []  # notes before the first scene (`FADE IN:`) go to its first shot

    def begin(new: ScriptScene) -> ScriptScene:
        nonlocal scene
        scene = new
        scene.elements[:0], opening[:] = opening, []
        script.scenes.append(scene)
        return scene

    def current() -> ScriptScene:
        return scene if scene is not None else begin(ScriptScene(heading="", line=start + 1))

    def note(element: Transition) -> None:
        (opening if scene is None else scene.elements).append(element)

    def next_is_blank(index: int) -> bool:
        for following in lines[index + 1 :]:
            if following is None:
                continue
            return not following.strip()
        return True

    for index in range(start, len(lines)):
        line = lines[index]
        if line is None:
            continue
        number = index + 1
        stripped = line.strip()
        if not stripped:
            if line.startswith("  ") and dialogue is not None:
                continue  # two spaces: a deliberate empty line inside dialogue
            previous_blank, dialogue, card = True, None, None
            continue
        if _PAGE_MARK.match(stripped):
            continue  # not content, and no paragraph break either
        was_blank, previous_blank = previous_blank, False
        if card is not None:
            card.text = f"{card.text} {_text(stripped)}"
            continue
        if dialogue is not None:
            if stripped.startswith("(") and stripped.endswith(")"):
                dialogue.parenthetical = " ".join(p for p in (dialogue.parenthetical, stripped[1:-1]) if p)
            else:
                dialogue.text = (dialogue.text + "\n" + _text(stripped)).strip()
            continue
        if stripped.startswith("===") and set(stripped) == {"="}:
            previous_blank = True
            continue
        if stripped.startswith("#"):
            continue  # a section: structure for the writer, not content
        if stripped.startswith("=") and not stripped.startswith("=="):
            # A synopsis describes the scene it follows, or the next one when it comes first.
            if scene is None:
                pending_synopsis = (pending_synopsis + " " + _text(stripped[1:])).strip()
            else:
                scene.synopsis = (scene.synopsis + " " + _text(stripped[1:])).strip()
            previous_blank = True
            continue
        if stripped.startswith("!"):
            _add_action(current(), _text(stripped[1:]), number, was_blank)
            continue
        if was_blank and (
            _HEADING.match(stripped + " ") or (stripped.startswith(".") and not stripped.startswith(".."))
        ):
            begin(_heading(stripped, number)).synopsis, pending_synopsis = pending_synopsis, ""
            previous_blank = True
            continue
        if stripped.startswith(">") and stripped.endswith("<"):
            # Centered text is a title card (THE END, a caption): noted on the shot, not a shot itself.
            note(Transition(_text(stripped[1:-1]), number, card=True))
            previous_blank = True
            continue
        if stripped.startswith(">"):
            text = _text(stripped[1:])
            note(Transition(text, number, "next" if opens(text) else "previous"))
            previous_blank = True
            continue
        if was_blank and (to := transition(_text(stripped))):
            note(Transition(_text(stripped), number, to))
            previous_blank = True
            continue
        if was_blank and (found := title_card(_text(stripped))):
            label, inline = found
            card = Transition(f"{label}: {inline}".strip(), number, card_to(label), card=True)
            note(card)
            continue
        if was_blank and not next_is_blank(index) and _is_character(stripped):
            name, extension, dual = _cue(stripped)
            dialogue = Dialogue(character=name, text="", line=number, extension=extension, dual=dual)
            current().elements.append(dialogue)
            continue
        _add_action(current(), _text(stripped.lstrip("~")), number, was_blank)
    if opening:
        current().elements += opening
    for each in script.scenes:
        each.elements = [e for e in each.elements if not isinstance(e, Dialogue) or e.text]
    script.scenes = [s for s in script.scenes if s.heading or s.elements]
    continue_times(script)
    if not any(s.heading for s in script.scenes):
        script.warnings.append("no scene headings (INT./EXT.) found: the whole script is one scene")
    return script


def _add_action(scene: ScriptScene, text: str, number: int, new_paragraph: bool) -> None:
    last = scene.elements[-1] if scene.elements else None
    if not new_paragraph and isinstance(last, Action):
        last.text = f"{last.text}\n{text}"
    else:
        scene.elements.append(Action(text, number))
