"""A Fountain (https://fountain.io/syntax) reader for what a breakdown needs.

Understood: title page, scene headings (INT./EXT./EST./INT./EXT./I/E, forced `.`, scene numbers `#1A#`),
character cues (upper case or forced `@`, extensions like `(V.O.)`, dual dialogue `^`), parentheticals,
dialogue, transitions (`... TO:` and forced `>`), centered text (a title card, kept with the transitions),
forced action `!`, sections `#`,
synopses `=` (kept as the scene's synopsis), page breaks `===`, notes `[[...]]` (kept apart) and the
boneyard `/* ... */` (dropped). Emphasis markers are removed from the text.

No well-kept Python Fountain library exists (PyPI's `fountain` was last released in 2016), and the
breakdown needs line numbers and dual-dialogue flags, so this is our own small reader.
"""

from __future__ import annotations

import re

from .script import Action, Dialogue, Script, ScriptScene, Transition, clean, split_location_time

_HEADING = re.compile(r"^(?:INT\.?/EXT|INT/EXT|I/E|INT|EXT|EST)[.\s]", re.IGNORECASE)
_SCENE_NUMBER = re.compile(r"\s*#([\w.\-]+)#\s*$")
_TITLE_KEY = re.compile(r"^([A-Za-z][A-Za-z ]*):\s*(.*)$")
_EXTENSION = re.compile(r"\(([^)]*)\)")
_EMPHASIS = re.compile(r"(?<!\\)\*+")
NOTE = re.compile(r"\[\[(.*?)\]\]", re.DOTALL)
BONEYARD = re.compile(r"/\*.*?\*/", re.DOTALL)
_CONTINUED = {"CONT'D", "CONT’D", "CONT.", "CONTINUING", "CONT"}
SKIP = None  # a line that held only a note: neither content nor a paragraph break


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
    return _EMPHASIS.sub("", line).replace("\\*", "*").strip()


def _is_character(line: str) -> bool:
    body = line.strip()
    if body.startswith("@"):
        return len(body) > 1
    name = _EXTENSION.sub("", body).rstrip("^").strip()
    if not name or len(name) > 50 or name.endswith("TO:"):
        return False
    return name == name.upper() and any(ch.isupper() for ch in name)


def _cue(line: str) -> tuple[str, str, bool]:
    """`@McCLANE (V.O.) ^` -> ("McCLANE", "V.O.", True)."""
    body = line.strip().lstrip("@").strip()
    dual = body.endswith("^")
    body = body.rstrip("^").strip()
    extensions = [e.strip() for e in _EXTENSION.findall(body)]
    name = _EXTENSION.sub("", body).strip()
    extension = ", ".join(e for e in extensions if e.upper() not in _CONTINUED)
    return name, extension, dual


def _heading(line: str, number: int) -> ScriptScene:
    raw = line.strip()
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
    location, time = split_location_time(rest)
    return ScriptScene(
        heading=raw, line=number, number=scene_number, int_ext=int_ext, location=location, time_of_day=time
    )


def _title_page(lines: list[str | None]) -> tuple[dict[str, str], int]:
    """The title page's keys (lower case) and the index of the first line after it."""
    first = next((i for i, line in enumerate(lines) if line is not None and line.strip()), None)
    if first is None or not (match := _TITLE_KEY.match(lines[first] or "")):
        return {}, 0
    keys: dict[str, str] = {}
    key = ""
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
            key = match.group(1).strip().lower()
            keys[key] = match.group(2).strip()
        elif key:
            keys[key] = (keys[key] + "\n" + line.strip()).strip()
        index += 1
    return keys, index


def parse_fountain(text: str) -> Script:
    """Parse Fountain text into scenes of action, dialogue and transitions."""
    script = Script(format="fountain")
    lines = _strip_notes(text.replace("\r\n", "\n").replace("\r", "\n"), script.notes)
    keys, start = _title_page(lines)
    script.title = _text(keys.get("title", "").replace("\n", " "))
    scene: ScriptScene | None = None
    dialogue: Dialogue | None = None
    previous_blank = True
    pending_synopsis = ""

    def current() -> ScriptScene:
        nonlocal scene
        if scene is None:
            scene = ScriptScene(heading="", line=start + 1)
            script.scenes.append(scene)
        return scene

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
            previous_blank, dialogue = True, None
            continue
        was_blank, previous_blank = previous_blank, False
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
            scene = _heading(stripped, number)
            scene.synopsis, pending_synopsis = pending_synopsis, ""
            script.scenes.append(scene)
            previous_blank = True
            continue
        if stripped.startswith(">") and stripped.endswith("<"):
            # Centered text is a title card (THE END, a caption): noted on the shot, not a shot itself.
            current().elements.append(Transition(_text(stripped[1:-1]), number))
            previous_blank = True
            continue
        if (stripped.startswith(">")) or (
            was_blank and next_is_blank(index) and stripped.endswith("TO:") and stripped == stripped.upper()
        ):
            current().elements.append(Transition(_text(stripped.lstrip(">")), number))
            previous_blank = True
            continue
        if was_blank and not next_is_blank(index) and _is_character(stripped):
            name, extension, dual = _cue(stripped)
            dialogue = Dialogue(character=name, text="", line=number, extension=extension, dual=dual)
            current().elements.append(dialogue)
            continue
        _add_action(current(), _text(stripped.lstrip("~")), number, was_blank)
    for each in script.scenes:
        each.elements = [e for e in each.elements if not isinstance(e, Dialogue) or e.text]
    script.scenes = [s for s in script.scenes if s.heading or s.elements]
    if not any(s.heading for s in script.scenes):
        script.warnings.append("no scene headings (INT./EXT.) found: the whole script is one scene")
    return script


def _add_action(scene: ScriptScene, text: str, number: int, new_paragraph: bool) -> None:
    last = scene.elements[-1] if scene.elements else None
    if not new_paragraph and isinstance(last, Action):
        last.text = f"{last.text}\n{text}"
    else:
        scene.elements.append(Action(text, number))
