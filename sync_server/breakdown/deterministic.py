"""The deterministic engine: a parsed screenplay becomes a draft with no model at all.

Rules (docs/breakdown.md tells them to users):
- every scene heading is a scene; its place and time of day are an environment (one per place, or one per
  place and time when the script visits the place at several times);
- every action paragraph starts a shot; the dialogue after it belongs to that shot (dialogue before any
  action starts its own shot); a transition or title card is a note on a neighbouring shot, never a shot
  (`CUT TO:` on the one before, `FADE IN:`/`TITLE OVER:` on the one after, see `_scene_shots`);
- the on-screen speakers of a shot and the known characters its action names are its subjects (a
  `(V.O.)`, `(O.S.)`, `(E)` speaker is heard, not seen);
- characters come from dialogue cues (`A AND B` speaks for two known characters), a cast list, and
  introductions like `RINA (20s, short hair)`;
- duration: about 0.4 s per word of action plus speaking time (2.5 words a second), 1-20 s;
- camera: explicit camera words in the action, else by what the shot holds (see `_camera`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .camera import PresetInfo, choose_preset
from .draft import (
    DraftCharacter,
    DraftContent,
    DraftEnvironment,
    DraftScene,
    DraftShot,
    DraftSubject,
    DraftTitlePage,
    character_id,
    environment_id,
    round_seconds,
    scene_id,
    shot_id,
)
from .korean import NARRATOR_NAMES
from .names import GROUP_CUES, display_name, extension_key, joint_names, off_screen
from .script import Action, Dialogue, Script, ScriptScene

WEATHER = [
    (r"\brain(ing|y|s)?\b|빗속|비가|비 내|빗줄기|소나기", "rain"),
    (r"\bsnow(ing|y|s)?\b|눈이 내|눈발|폭설", "snow"),
    (r"\bfog(gy)?\b|\bmist\b|안개", "fog"),
    (r"\bstorm|thunder|폭풍|천둥", "storm"),
    (r"\bwind(y)?\b|바람이", "wind"),
]
_WORDS = re.compile(r"[A-Za-z0-9']+")
_HANGUL = re.compile(r"[가-힣]")
_INTRO_LATIN = re.compile(r"\b([A-Z][A-Z'’.\-]*(?: [A-Z][A-Z'’.\-]*){0,2})\s*\(([^()]{3,300})\)")
_SENTENCE_END = re.compile(r"(?<=[.!?。])\s|(?<=다\.)")
SECONDS_PER_ACTION_WORD = 0.4
WORDS_PER_SECOND_SPOKEN = 2.5
HANGUL_PER_WORD = 3.0
MIN_SHOT_S, MAX_SHOT_S = 1.0, 20.0


def word_count(text: str) -> float:
    """Words in mixed English/Korean text (three Hangul syllables count as one word)."""
    return len(_WORDS.findall(text)) + len(_HANGUL.findall(text)) / HANGUL_PER_WORD


def first_sentence(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    sentence = _SENTENCE_END.split(flat, maxsplit=1)[0].strip()
    return sentence if len(sentence) <= limit else sentence[: limit - 1].rstrip() + "…"


def _mentions(text: str, names: Sequence[str]) -> bool:
    for name in names:
        if not name:
            continue
        if _HANGUL.search(name):
            if name in text:
                return True
        elif re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", text, re.IGNORECASE):
            return True
    return False


class _Characters:
    """Characters in order of first appearance, keyed case-insensitively."""

    def __init__(self) -> None:
        self.items: dict[str, DraftCharacter] = {}

    def get(self, raw: str) -> DraftCharacter | None:
        return self.items.get(display_name(raw).casefold())

    def add(self, raw: str, description: str = "") -> DraftCharacter:
        name = display_name(raw)
        key = name.casefold()
        if key not in self.items:
            self.items[key] = DraftCharacter(id=character_id(len(self.items) + 1), name=name)
            if raw.strip() != name:
                self.items[key].aliases = [raw.strip()]
        character = self.items[key]
        if description and not character.description:
            character.description = " ".join(description.split())
        return character

    def names(self, character: DraftCharacter) -> list[str]:
        return [character.name, *character.aliases]


def _speakers(script: Script) -> dict[str, list[str]]:
    """Each cue -> who speaks it: `THEO AND DAD` / `THEO & DAD` / `태오와 아빠` is both when both are
    characters the script knows from elsewhere (a cue of their own, the cast list, an introduction)."""
    cues = {
        e.character
        for scene in script.scenes
        for e in scene.elements
        if isinstance(e, Dialogue) and e.character.upper() not in NARRATOR_NAMES
    }
    known = {display_name(n).casefold() for n in script.cast}
    for scene in script.scenes:
        for element in scene.elements:
            if isinstance(element, Action) and script.format == "fountain":
                known.update(display_name(m.group(1)).casefold() for m in _INTRO_LATIN.finditer(element.text))
    speakers: dict[str, list[str]] = {}
    names = {cue: display_name(cue).casefold() for cue in cues}
    for cue in cues:
        others = known | {name for other, name in names.items() if other != cue}
        grouped = extension_key(cue) in GROUP_CUES
        speakers[cue] = [] if grouped else joint_names(cue, others.__contains__, display_name)
    return speakers


def _collect_characters(script: Script, speakers: dict[str, list[str]]) -> _Characters:
    characters = _Characters()
    for name, description in script.cast.items():
        characters.add(name, description)
    for scene in script.scenes:
        for element in scene.elements:
            if isinstance(element, Dialogue) and element.character in speakers:
                for name in speakers[element.character]:
                    characters.add(name).lines += 1
            elif isinstance(element, Action) and script.format == "fountain":
                for match in _INTRO_LATIN.finditer(element.text):
                    if len(match.group(1)) >= 2 and any(c.isalpha() for c in match.group(1)):
                        characters.add(match.group(1), match.group(2))
    # Korean introductions: `리나(20대, 짧은 검은 머리)가 ...` for names already known.
    for scene in script.scenes:
        for element in scene.elements:
            if isinstance(element, Action):
                for character in characters.items.values():
                    found = re.search(rf"{re.escape(character.name)}\s*\(([^()]{{3,300}})\)", element.text)
                    if found and not character.description:
                        character.description = " ".join(found.group(1).split())
    return characters


def _environments(script: Script) -> tuple[list[DraftEnvironment], dict[int, str]]:
    """One environment per place (per place and time when needed); scene index -> environment id.
    A scene whose heading names no time joins its place's first environment."""
    times: dict[str, list[str]] = {}
    for scene in script.scenes:
        if scene.location:
            seen = times.setdefault(scene.location.casefold(), [])
            if scene.time_of_day and scene.time_of_day.casefold() not in [t.casefold() for t in seen]:
                seen.append(scene.time_of_day)
    environments: dict[tuple[str, str], DraftEnvironment] = {}
    refs: dict[int, str] = {}
    for index, scene in enumerate(script.scenes):
        if not scene.location:
            continue
        known = times[scene.location.casefold()]
        several = len(known) > 1
        time_of_day = scene.time_of_day or (known[0] if known else "")
        key = (scene.location.casefold(), time_of_day.casefold() if several else "")
        if key not in environments:
            location, time = display_name(scene.location), display_name(time_of_day)
            name = f"{location} ({time})" if several and time else location
            environments[key] = DraftEnvironment(
                id=environment_id(len(environments) + 1),
                name=name[:200],
                location=location,
                time_of_day=time,
                description=scene.heading,
            )
        environment = environments[key]
        if not environment.weather:
            text = " ".join(e.text for e in scene.elements if isinstance(e, Action))
            environment.weather = next((w for p, w in WEATHER if re.search(p, text, re.IGNORECASE)), "")
        refs[index] = environment.id
    return list(environments.values()), refs


def _camera(shot: DraftShot, first_in_scene: bool, speakers: list[str], dual: bool) -> str:
    """What the shot holds, as a camera suggestion (used when the action names no camera)."""
    if first_in_scene and not shot.subjects:
        return "establishing extreme wide shot"
    if first_in_scene:
        return "wide master shot"
    if dual or len(set(speakers)) >= 2:
        return "over-the-shoulder"
    if len(speakers) == 1 and len(shot.subjects) <= 1:
        return "medium close-up"
    if len(shot.subjects) == 2:
        return "two shot"
    if len(shot.subjects) > 2:
        return "group wide shot"
    if len(shot.subjects) == 1:
        return "medium shot"
    return "wide shot"


def _scene_name(scene: ScriptScene) -> str:
    """`Theo's Bedroom - Night (1973)`: place and time, with the heading's notes in brackets."""
    name = " - ".join(display_name(p) for p in (scene.location, scene.time_of_day) if p)
    notes = ", ".join(display_name(n) for n in scene.notes)
    return (f"{name} ({notes})" if name and notes else name or notes)[:200]


def breakdown_script(script: Script, presets: Sequence[PresetInfo] = ()) -> DraftContent:
    """Characters, environments, scenes and shots from a parsed script."""
    speakers = _speakers(script)
    characters = _collect_characters(script, speakers)
    environments, environment_refs = _environments(script)
    content = DraftContent(
        title=script.title[:200],
        title_page=DraftTitlePage.from_keys(script.title_page),
        environments=environments,
    )
    carried: list[str] = []
    for scene_index, scene in enumerate(script.scenes, start=1):
        draft_scene = DraftScene(
            id=scene_id(scene_index),
            number=scene.number or str(scene_index),
            heading=scene.heading[:200],
            name=_scene_name(scene),
            description=scene.synopsis
            or first_sentence(next((e.text for e in scene.elements if isinstance(e, Action)), "")),
            environment_ref=environment_refs.get(scene_index - 1),
        )
        content.scenes.append(draft_scene)
        shots, carried = _scene_shots(scene, scene_index, draft_scene, characters, speakers, presets, carried)
        content.shots += shots
    if carried and content.shots:  # notes after the last shot of the script (`FADE OUT.`, `THE END`)
        last = content.shots[-1]
        last.camera_notes = "; ".join(n for n in (last.camera_notes, *carried) if n)
    content.characters = list(characters.items.values())
    return content


_Group = tuple[Action | None, list[Dialogue], list[str]]


def _groups(scene: ScriptScene, carried: list[str]) -> tuple[list[_Group], list[str]]:
    """The scene's shots as (action, dialogue, notes), and the notes left for the next scene's first shot.

    A note goes on the shot before it, except an opening one (`FADE IN:`, `TITLE OVER:`), one with no
    shot before it in the scene, and a title card right after a cut (`CUT TO BLACK.` then `SUPER:`):
    those wait for the next shot, in the next scene if need be."""
    groups: list[_Group] = []
    waiting = list(carried)
    cut = False  # the last shot ended with a transition: dialogue or a card after it is a new shot's
    for element in scene.elements:
        if isinstance(element, Action):
            groups.append((element, [], waiting))
            waiting, cut = [], False
        elif isinstance(element, Dialogue):
            if not groups or cut:
                groups.append((None, [], waiting))
                waiting, cut = [], False
            groups[-1][1].append(element)
        elif element.to == "next" or not groups or (element.card and cut) or waiting:
            waiting.append(element.text)
        else:
            groups[-1][2].append(element.text)
            cut = cut or not element.card
    return groups, waiting


def _dialogue_text(line: Dialogue, speakers: list[str]) -> str:
    """`Maya (V.O.): Theo?`, `Theo & Dad: Shoes off!`, `NA: ...`."""
    if line.character.upper() in NARRATOR_NAMES or _HANGUL.search(line.character) or not speakers:
        name = display_name(line.character)  # `NA`, `태오와 아빠`, `Both` read as written
    else:
        name = " & ".join(display_name(s) for s in speakers)
    notes = "".join(f" ({x})" for x in (line.extension, line.parenthetical) if x and x != "NA")
    return f"{name}{notes}: {' '.join(line.text.split())}"


def _scene_shots(
    scene: ScriptScene,
    scene_index: int,
    draft_scene: DraftScene,
    characters: _Characters,
    cue_speakers: dict[str, list[str]],
    presets: Sequence[PresetInfo],
    carried: list[str],
) -> tuple[list[DraftShot], list[str]]:
    groups, waiting = _groups(scene, carried)
    shots: list[DraftShot] = []
    for index, (action, lines, notes) in enumerate(groups, start=1):
        action_text = action.text if action else ""
        subjects: list[str] = []
        speakers: list[str] = []  # on screen
        for line in lines:
            for name in cue_speakers.get(line.character, []):
                character = characters.get(name)
                if character is None or off_screen(line.extension):
                    continue  # heard, not seen: no subject (and no LoRA) unless the action names them
                speakers.append(character.id)
                if character.id not in subjects:
                    subjects.append(character.id)
        for character in characters.items.values():
            if character.id not in subjects and _mentions(action_text, characters.names(character)):
                subjects.append(character.id)
        dialogue = "\n".join(_dialogue_text(line, cue_speakers.get(line.character, [])) for line in lines)
        spoken = sum(word_count(line.text) for line in lines)
        seconds = word_count(action_text) * SECONDS_PER_ACTION_WORD + spoken / WORDS_PER_SECOND_SPOKEN
        shot = DraftShot(
            id=shot_id(scene_index, index),
            scene_ref=draft_scene.id,
            description=first_sentence(action_text or dialogue),
            action=" ".join(action_text.split()),
            dialogue=dialogue,
            subjects=[DraftSubject(character_ref=s) for s in subjects],
            environment_ref=draft_scene.environment_ref,
            camera_notes="; ".join(notes),
            duration_s=round_seconds(min(MAX_SHOT_S, max(MIN_SHOT_S, seconds))),
            source_line=(action or lines[0]).line,
        )
        named = choose_preset(action_text, presets) if action_text else None
        shot.suggested_camera = (
            named.lower() if named else _camera(shot, index == 1, speakers, any(line.dual for line in lines))
        )
        shot.preset = named or choose_preset(shot.suggested_camera, presets)
        shots.append(shot)
    return shots, waiting
