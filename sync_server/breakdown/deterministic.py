"""The deterministic engine: a parsed screenplay becomes a draft with no model at all.

Rules (docs/breakdown.md tells them to users):
- every scene heading is a scene; its place and time of day are an environment (one per place, or one per
  place and time when the script visits the place at several times);
- every action paragraph starts a shot; the dialogue after it belongs to that shot (dialogue before any
  action starts its own shot); a transition goes into the previous shot's camera notes;
- the speakers of a shot and the known characters its action names are its subjects;
- characters come from dialogue cues, a cast list, and introductions like `RINA (20s, short hair)`;
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
    character_id,
    environment_id,
    round_seconds,
    scene_id,
    shot_id,
)
from .korean import NARRATOR_NAMES
from .script import Action, Dialogue, Script, ScriptScene, Transition

WEATHER = [
    (r"\brain(ing|y|s)?\b|빗속|비가|비 내|빗줄기|소나기", "rain"),
    (r"\bsnow(ing|y|s)?\b|눈이 내|눈발|폭설", "snow"),
    (r"\bfog(gy)?\b|\bmist\b|안개", "fog"),
    (r"\bstorm|thunder|폭풍|천둥", "storm"),
    (r"\bwind(y)?\b|바람이", "wind"),
]
_WORDS = re.compile(r"[A-Za-z0-9']+")
_HANGUL = re.compile(r"[가-힣]")
_INTRO_LATIN = re.compile(r"\b([A-Z][A-Z'.\-]*(?: [A-Z][A-Z'.\-]*){0,2})\s*\(([^()]{3,300})\)")
_SENTENCE_END = re.compile(r"(?<=[.!?。])\s|(?<=다\.)")
SECONDS_PER_ACTION_WORD = 0.4
WORDS_PER_SECOND_SPOKEN = 2.5
HANGUL_PER_WORD = 3.0
MIN_SHOT_S, MAX_SHOT_S = 1.0, 20.0


def display_name(name: str) -> str:
    """`RINA` -> `Rina`, `DR. KIM` -> `Dr. Kim`; mixed case and Korean names are kept as written."""
    name = " ".join(name.split())
    if name == name.upper() and any(ch.isupper() for ch in name):
        return re.sub(r"[A-Za-z]+", lambda m: m.group(0).capitalize(), name.lower())
    return name


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


def _collect_characters(script: Script) -> _Characters:
    characters = _Characters()
    for name, description in script.cast.items():
        characters.add(name, description)
    for scene in script.scenes:
        for element in scene.elements:
            if isinstance(element, Dialogue) and element.character.upper() not in NARRATOR_NAMES:
                characters.add(element.character).lines += 1
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
    """One environment per place (per place and time when needed); scene index -> environment id."""
    times: dict[str, list[str]] = {}
    for scene in script.scenes:
        if scene.location:
            seen = times.setdefault(scene.location.casefold(), [])
            if scene.time_of_day not in seen:
                seen.append(scene.time_of_day)
    environments: dict[tuple[str, str], DraftEnvironment] = {}
    refs: dict[int, str] = {}
    for index, scene in enumerate(script.scenes):
        if not scene.location:
            continue
        several = len(times[scene.location.casefold()]) > 1
        key = (scene.location.casefold(), scene.time_of_day.casefold() if several else "")
        if key not in environments:
            location, time = display_name(scene.location), display_name(scene.time_of_day)
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


def breakdown_script(script: Script, presets: Sequence[PresetInfo] = ()) -> DraftContent:
    """Characters, environments, scenes and shots from a parsed script."""
    characters = _collect_characters(script)
    environments, environment_refs = _environments(script)
    content = DraftContent(title=script.title[:200], environments=environments)
    for scene_index, scene in enumerate(script.scenes, start=1):
        draft_scene = DraftScene(
            id=scene_id(scene_index),
            number=scene.number or str(scene_index),
            heading=scene.heading[:200],
            name=" - ".join(display_name(p) for p in (scene.location, scene.time_of_day) if p)[:200],
            description=scene.synopsis
            or first_sentence(next((e.text for e in scene.elements if isinstance(e, Action)), "")),
            environment_ref=environment_refs.get(scene_index - 1),
        )
        content.scenes.append(draft_scene)
        content.shots += _scene_shots(scene, scene_index, draft_scene, characters, presets)
    content.characters = list(characters.items.values())
    return content


def _scene_shots(
    scene: ScriptScene,
    scene_index: int,
    draft_scene: DraftScene,
    characters: _Characters,
    presets: Sequence[PresetInfo],
) -> list[DraftShot]:
    groups: list[tuple[Action | None, list[Dialogue], list[Transition]]] = []
    for element in scene.elements:
        if isinstance(element, Action):
            groups.append((element, [], []))
        elif isinstance(element, Dialogue):
            if not groups or groups[-1][2]:
                groups.append((None, [], []))
            groups[-1][1].append(element)
        elif groups:
            groups[-1][2].append(element)
    shots: list[DraftShot] = []
    for index, (action, lines, transitions) in enumerate(groups, start=1):
        action_text = action.text if action else ""
        subjects: list[str] = []
        speakers: list[str] = []
        for line in lines:
            character = characters.get(line.character)
            if character is not None:
                speakers.append(character.id)
                if character.id not in subjects:
                    subjects.append(character.id)
        for character in characters.items.values():
            if character.id not in subjects and _mentions(action_text, characters.names(character)):
                subjects.append(character.id)
        dialogue = "\n".join(
            (line.character if line.character.upper() in NARRATOR_NAMES else display_name(line.character))
            + (f" ({line.parenthetical})" if line.parenthetical else "")
            + f": {' '.join(line.text.split())}"
            for line in lines
        )
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
            camera_notes="; ".join(t.text for t in transitions),
            duration_s=round_seconds(min(MAX_SHOT_S, max(MIN_SHOT_S, seconds))),
            source_line=(action or lines[0]).line,
        )
        named = choose_preset(action_text, presets) if action_text else None
        shot.suggested_camera = (
            named.lower() if named else _camera(shot, index == 1, speakers, any(line.dual for line in lines))
        )
        shot.preset = named or choose_preset(shot.suggested_camera, presets)
        shots.append(shot)
    return shots
