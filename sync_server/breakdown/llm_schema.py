"""The JSON an LLM must return for one piece of a script, its JSON schema, and the merge into a draft.

The shape follows the roadmap's example (characters / shots / environments) plus scenes. Every field is
required and no other field is allowed, so the schema works with OpenAI's strict structured output and
Ollama's `format`; a reply that parses but breaks a rule here is retried like broken JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

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
from .names import display_name, joint_names, off_screen, split_cue

SCHEMA_NAME = "scenario_breakdown"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LlmCharacter(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    aliases: list[str]
    description: str
    clothing: list[str]
    role: str


class LlmEnvironment(_Strict):
    id: Annotated[str, Field(min_length=1, max_length=50)]
    location: str
    time_of_day: str
    weather: str
    mood: str


class LlmScene(_Strict):
    number: Annotated[int, Field(ge=1)]
    name: str
    description: str
    environment_ref: str


class LlmSubject(_Strict):
    name: str
    clothing: str


class LlmShot(_Strict):
    scene: Annotated[int, Field(ge=1)]
    shot_number: Annotated[int, Field(ge=1)]
    description: str
    action: str
    dialogue: str
    characters: list[LlmSubject]
    suggested_camera: str
    suggested_duration: Annotated[float, Field(gt=0, le=120)]
    environment_ref: str


class LlmBreakdown(_Strict):
    characters: list[LlmCharacter]
    environments: list[LlmEnvironment]
    scenes: list[LlmScene]
    shots: list[LlmShot]


# Not every endpoint's structured output knows these keywords (OpenAI's strict mode refuses some);
# they are left out of the schema sent and checked here instead.
_UNSENT_KEYWORDS = frozenset(
    {"minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}
)


def json_schema() -> dict[str, Any]:
    """The schema sent as `response_format.json_schema.schema`."""
    return _without_keywords(LlmBreakdown.model_json_schema())


def _without_keywords(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_keywords(v) for k, v in node.items() if k not in _UNSENT_KEYWORDS}
    if isinstance(node, list):
        return [_without_keywords(v) for v in node]
    return node


class InvalidReply(ValueError):
    """A reply that is not the breakdown JSON; the message says what is wrong, for the retry prompt."""


def check_reply(data: Any) -> LlmBreakdown:
    """Validate a parsed reply against the schema and its references."""
    try:
        reply = LlmBreakdown.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[:3]
        where = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}" for e in first)
        raise InvalidReply(f"does not match the schema ({exc.error_count()} errors): {where}") from exc
    environments = {e.id for e in reply.environments}
    names = {cue_name(n)[0].casefold() for c in reply.characters for n in (c.name, *c.aliases)}
    scenes = {s.number for s in reply.scenes}
    for index, scene in enumerate(reply.scenes):
        if scene.environment_ref and scene.environment_ref not in environments:
            raise InvalidReply(f"scenes.{index}.environment_ref: no environment '{scene.environment_ref}'")
    for index, shot in enumerate(reply.shots):
        if shot.scene not in scenes:
            raise InvalidReply(f"shots.{index}.scene: no scene {shot.scene} in 'scenes'")
        if shot.environment_ref and shot.environment_ref not in environments:
            raise InvalidReply(f"shots.{index}.environment_ref: no environment '{shot.environment_ref}'")
        for position, subject in enumerate(shot.characters):
            parts = joint_names(cue_name(subject.name)[0], names.__contains__)
            if not all(part.casefold() in names for part in parts):
                raise InvalidReply(
                    f"shots.{index}.characters.{position}.name: '{subject.name}' is not in 'characters'"
                )
    return reply


def cue_name(raw: str) -> tuple[str, bool]:
    """An LLM's character name as the parser writes it (`MAYA (V.O.)` -> `Maya`), and whether the
    extension says the character is heard, not seen."""
    name, extensions, _ = split_cue(raw, everything=False)
    return display_name(name or raw.strip()), off_screen(", ".join(extensions))


def merge_replies(replies: Sequence[LlmBreakdown], presets: Sequence[PresetInfo] = ()) -> DraftContent:
    """One draft from the replies for consecutive pieces: characters merged by name or alias,
    environments by place and time, scenes renumbered in order."""
    content = DraftContent()
    by_name: dict[str, DraftCharacter] = {}
    by_place: dict[tuple[str, str], DraftEnvironment] = {}
    for reply in replies:
        listed = {cue_name(n)[0].casefold() for c in reply.characters for n in (c.name, *c.aliases)}
        for llm_character in reply.characters:
            name = cue_name(llm_character.name)[0]
            others = (listed | set(by_name)) - {name.casefold()}
            if len(joint_names(name, others.__contains__)) > 1:
                continue  # `Theo & Maya`: two characters speaking together, not a third one
            aliases = [cue_name(a)[0] for a in llm_character.aliases]
            keys = [name.casefold(), *(a.casefold() for a in aliases)]
            character = next((by_name[k] for k in keys if k in by_name), None)
            if character is None:
                character = DraftCharacter(
                    id=character_id(len(content.characters) + 1),
                    name=name,
                    description=llm_character.description,
                    role=llm_character.role[:200],
                )
                content.characters.append(character)
            character.aliases = _union(character.aliases, [name, *aliases], exclude=character.name)
            character.clothing = _union(character.clothing, llm_character.clothing)
            character.description = character.description or llm_character.description
            for key in keys:
                by_name.setdefault(key, character)
        environment_refs: dict[str, str] = {}
        for llm_environment in reply.environments:
            place = (
                llm_environment.location.casefold().strip(),
                llm_environment.time_of_day.casefold().strip(),
            )
            environment = by_place.get(place)
            if environment is None:
                name = llm_environment.location or llm_environment.id
                if any(e.name.casefold() == name.casefold() for e in content.environments):
                    name = f"{name} ({llm_environment.time_of_day})" if llm_environment.time_of_day else name
                environment = DraftEnvironment(
                    id=environment_id(len(content.environments) + 1),
                    name=name[:200],
                    location=llm_environment.location,
                    time_of_day=llm_environment.time_of_day[:200],
                    weather=llm_environment.weather[:200],
                    mood=llm_environment.mood[:200],
                )
                content.environments.append(environment)
                by_place[place] = environment
            environment_refs[llm_environment.id] = environment.id
        scene_refs: dict[int, DraftScene] = {}
        for llm_scene in sorted(reply.scenes, key=lambda s: s.number):
            scene = DraftScene(
                id=scene_id(len(content.scenes) + 1),
                number=str(len(content.scenes) + 1),
                name=llm_scene.name[:200],
                heading=llm_scene.name[:200],
                description=llm_scene.description,
                environment_ref=environment_refs.get(llm_scene.environment_ref),
            )
            content.scenes.append(scene)
            scene_refs[llm_scene.number] = scene
        counters: dict[str, int] = {}
        for llm_shot in sorted(reply.shots, key=lambda s: (s.scene, s.shot_number)):
            scene = scene_refs[llm_shot.scene]
            counters[scene.id] = counters.get(scene.id, 0) + 1
            subjects: list[DraftSubject] = []
            for subject in llm_shot.characters:
                name, heard = cue_name(subject.name)
                if heard:
                    continue  # a voice-over or off-screen speaker is not in the picture (nor is their LoRA)
                for part in joint_names(name, by_name.__contains__):
                    character = by_name[part.casefold()]
                    if all(s.character_ref != character.id for s in subjects):
                        if subject.clothing:
                            character.clothing = _union(character.clothing, [subject.clothing])
                        subjects.append(
                            DraftSubject(character_ref=character.id, clothing=subject.clothing[:200])
                        )
            content.shots.append(
                DraftShot(
                    id=shot_id(int(scene.id.split("-")[1]), counters[scene.id]),
                    scene_ref=scene.id,
                    description=llm_shot.description,
                    action=llm_shot.action,
                    dialogue=llm_shot.dialogue,
                    subjects=subjects,
                    environment_ref=environment_refs.get(llm_shot.environment_ref, scene.environment_ref),
                    suggested_camera=llm_shot.suggested_camera[:200],
                    preset=choose_preset(llm_shot.suggested_camera, presets),
                    duration_s=round_seconds(llm_shot.suggested_duration),
                )
            )
    return content


def _union(first: Sequence[str], second: Sequence[str], exclude: str = "") -> list[str]:
    seen = {exclude.casefold()} if exclude else set()
    out: list[str] = []
    for value in [*first, *second]:
        value = value.strip()[:200]
        if value and value.casefold() not in seen:
            seen.add(value.casefold())
            out.append(value)
    return out
