"""Korean screenplay conventions: `S#1. 골목길 - 밤` scene headings, `리나: 대사` dialogue, 지문 as action.

Scene headings: `S#1.`, `S# 1`, `#1.`, `씬 1.`, `장면 1.` followed by the place and the time
(`골목길 - 밤`, `골목길 (밤)`, `골목길/밤`); an interior/exterior mark may precede or follow the place
(`(실내)`, `내부`, `외부`); notes such as `(1973년)`, `(회상)`, `연속` are kept apart (`headings.py`).
Before the first scene: a title page (`제목:`, `작가:`, `원작:`, ...) and a cast list. Dialogue:
`이름: 대사` or `이름 : 대사`, with parentheticals or extensions after the name (`리나(작게): ...`,
`민수(E): ...`, `리나 (V.O.): ...`; `names.py` tells them apart). Narration (`NA:`, `내레이션:`) is kept
as dialogue of the narrator. Lines such as `F.I.`, `F.O.`, `컷`, `디졸브`, `암전` are transitions and
`자막: ...` a title card (notes, never shots: `edit_notes.py`); `//` starts a comment that is dropped.
"""

from __future__ import annotations

import re

from . import title_page
from .edit_notes import card_to, title_card, transition
from .headings import split_heading
from .names import CONTINUED, extension_key, is_extension, strip_emphasis
from .script import Action, Dialogue, Script, ScriptScene, Transition, clean, continue_times

HEADING = re.compile(
    r"^\s*(?:S\s*#|#|씬|장면|신)\s*(\d+[A-Za-z]?(?:-\d+)?)\s*[.):\]]?\s*(.*)$", re.IGNORECASE
)
_DIALOGUE = re.compile(r"^\s*([^\s:()][^:()]{0,19}?)\s*((?:\([^)]{1,30}\)\s*)*)[:：]\s*(.+)$")
_GROUPS = re.compile(r"\(([^)]*)\)")
_INT_EXT = {"실내": "실내", "내부": "실내", "내": "실내", "실외": "실외", "외부": "실외", "외": "실외"}
NARRATOR_NAMES = frozenset({"NA", "N", "내레이션", "나레이션", "해설"})
# `label: text` lines that are directions, not someone speaking (자막: subtitle, 효과음: sound effect, ...).
NOT_SPEAKERS = frozenset(
    {
        "자막",
        "효과",
        "효과음",
        "음악",
        "소리",
        "장소",
        "시간",
        "배경",
        "참고",
        "메모",
        "비고",
        "인서트",
        "화면",
        "날짜",
        "BGM",
        "SE",
    }
)


def looks_korean(text: str) -> bool:
    """At least one `S#`-style scene heading at the start of a line."""
    return any(
        HEADING.match(line) and re.match(r"^\s*(S\s*#|씬|장면)", line, re.I) for line in text.splitlines()
    )


def _heading(number: str, rest: str, line: int) -> ScriptScene:
    rest = rest.strip()
    int_ext = ""
    found = re.search(r"\((실내|실외|내부|외부)\)|^(실내|실외|내부|외부)[.\s]+", rest)
    if found:
        int_ext = _INT_EXT[found.group(1) or found.group(2)]
        rest = (rest[: found.start()] + " " + rest[found.end() :]).strip()
    place = split_heading(rest)
    return ScriptScene(
        heading=clean(f"S#{number}. {rest}"),
        line=line,
        number=number,
        int_ext=int_ext,
        location=place.location,
        time_of_day=place.time_of_day,
        notes=place.notes,
    )


def _dialogue(line: str, number: int) -> Dialogue | None:
    match = _DIALOGUE.match(line)
    if not match:
        return None
    name, groups, text = strip_emphasis(match.group(1)).strip(), match.group(2) or "", match.group(3).strip()
    if not name or re.search(r"[.!?,。]", name) or name.count(" ") > 2 or name.upper() in NOT_SPEAKERS:
        return None  # a sentence or a direction label before the colon: action, not dialogue
    extensions: list[str] = []
    parentheticals: list[str] = []
    for inside in (" ".join(g.split()) for g in _GROUPS.findall(groups)):
        if is_extension(inside):  # `(V.O)`, `(E)`, `(전화)`; `(계속)` and `(CONT'D)` are dropped
            extensions += [] if extension_key(inside) in CONTINUED else [inside.upper()]
        elif inside:
            parentheticals.append(inside)
    extension, parenthetical = ", ".join(extensions), ", ".join(parentheticals)
    if name.upper() in NARRATOR_NAMES:
        extension = extension or "NA"
    return Dialogue(
        character=name,
        text=strip_emphasis(text),
        line=number,
        extension=extension,
        parenthetical=parenthetical,
    )


def _front_matter(script: Script, line: str) -> bool:
    """Title and cast list before the first scene heading; False when the line is story content."""
    keyed = re.match(r"^([^\W\d_][\w ]{0,9}?)\s*[:：]\s*(.+)$", line)
    if keyed and (keyed.group(1).lower() == "title" or keyed.group(1) in title_page.KOREAN_KEYS):
        title_page.add(script.title_page, keyed.group(1), keyed.group(2))
        script.title = title_page.one_line(script.title_page.get("title", ""))
        return True
    if re.fullmatch(r"[<\[(]?\s*(등장\s*인물|인물|cast)\s*[>\])]?\s*:?", line, re.IGNORECASE):
        script.cast.setdefault("", "")
        return True
    if "" in script.cast:  # inside the cast list: `리나: 20대 여성, 짧은 검은 머리`
        said = _dialogue(line, 0)
        if said is not None:
            script.cast[said.character] = said.text
            return True
    if not script.title and not script.cast:
        script.title = strip_emphasis(line).strip("<>《》「」\"' ")
        script.title_page["title"] = script.title
        return True
    return False


def front_matter(text: str) -> Script:
    """Only the title page and cast list before the first scene (for the LLM engine)."""
    script = Script(format="korean")
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        stripped = raw.strip()
        if stripped and (HEADING.match(stripped) or not _front_matter(script, stripped)):
            break
    script.cast.pop("", None)
    return script


def parse_korean(text: str) -> Script:
    """Parse a Korean-convention screenplay into scenes."""
    script = Script(format="korean")
    scene: ScriptScene | None = None
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    previous_blank = True
    opening: list[Transition] = []  # `F.I.` before the first scene goes to its first shot
    card: Transition | None = None  # `자막:` with its text on the lines below
    for index, raw in enumerate(lines):
        number = index + 1
        line = raw.split("//", 1)[0].rstrip() if "//" in raw and "://" not in raw else raw.rstrip()
        stripped = line.strip()
        if not stripped:
            previous_blank, card = True, None
            continue
        was_blank, previous_blank = previous_blank, False
        if card is not None:
            card.text = f"{card.text} {strip_emphasis(stripped)}"
            continue
        heading = HEADING.match(stripped)
        if heading and (heading.group(2) or re.match(r"^\s*(S\s*#|씬|장면)", stripped, re.I)):
            scene = _heading(heading.group(1), strip_emphasis(heading.group(2)), number)
            scene.elements[:0], opening = opening, []
            script.scenes.append(scene)
            continue
        note = _note(stripped, number)
        if note is not None:
            (scene.elements if scene is not None else opening).append(note)
            card = note if note.card and note.text.endswith(":") else None
            previous_blank = True
            continue
        if scene is None:
            if _front_matter(script, stripped):
                continue
            scene = ScriptScene(heading="", line=number)
            scene.elements[:0], opening = opening, []
            script.scenes.append(scene)
        said = _dialogue(stripped, number)
        if said is not None:
            scene.elements.append(said)
            continue
        last = scene.elements[-1] if scene.elements else None
        text_line = strip_emphasis(
            stripped[1:-1].strip() if stripped.startswith("(") and stripped.endswith(")") else stripped
        )
        # A line right under dialogue continues it (unless it is a parenthesised direction);
        # a line right under action continues that paragraph.
        continues = isinstance(last, Action) or (isinstance(last, Dialogue) and not stripped.startswith("("))
        if last is not None and continues and not was_blank:
            last.text = f"{last.text}\n{text_line}"
        else:
            scene.elements.append(Action(text_line, number))
    if opening and script.scenes:
        script.scenes[-1].elements += opening
    script.cast.pop("", None)
    continue_times(script)
    if not script.scenes:
        script.warnings.append("no S# scene headings found")
    return script


def _note(line: str, number: int) -> Transition | None:
    """A transition (`컷`, `F.O.`, `CUT TO:`) or a title card (`자막: 1973년`), else None."""
    to = transition(line, korean=True)
    if to is not None:
        return Transition(line, number, to)
    found = title_card(line)
    if found is None:
        return None
    label, inline = found
    return Transition(f"{label}: {strip_emphasis(inline)}".strip(), number, card_to(label), card=True)
