"""A shot's records as prompt-engine inputs, and the prompt for a shot and a workflow."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aipipe_shared.workflows import WorkflowTemplate

from ..db.models import Character, CinematicPreset, Environment, Shot
from .engine import Camera, PromptInputs, PromptResult, Setting, Subject, build
from .styles import DEFAULT_STYLE, PromptStyle, style_for


def shot_inputs(
    session: Session, shot: Shot, characters: Mapping[uuid.UUID, Character] | None = None
) -> PromptInputs:
    """Subjects (with their chosen clothing), environment, cinematic preset and action of a shot.
    `characters`: the project's, read once by a caller building many shots' prompts."""
    if characters is None:
        characters = {
            c.id: c
            for c in session.scalars(
                select(Character).where(Character.id.in_([s.character_id for s in shot.subjects]))
            )
        }
    subjects = []
    for subject in shot.subjects:
        character = characters.get(subject.character_id)
        if character is None:
            continue
        subjects.append(
            Subject(
                name=character.name,
                description=character.description,
                clothing=subject.clothing,
                trigger_words=tuple(character.trigger_words),
                lora_file=character.lora_file,
                lora_strength=character.lora_strength,
            )
        )
    environment = session.get(Environment, shot.environment_id) if shot.environment_id else None
    preset = session.get(CinematicPreset, shot.preset_id) if shot.preset_id else None
    return PromptInputs(
        subjects=tuple(subjects),
        environment=Setting(
            name=environment.name,
            prompt=environment.prompt,
            location=environment.location,
            time_of_day=environment.time_of_day,
            weather=environment.weather,
            mood=environment.mood,
        )
        if environment
        else None,
        preset=Camera(
            name=preset.name,
            shot_size=preset.shot_size,
            angle=preset.angle,
            lens_mm=preset.lens_mm,
            movement=preset.movement,
            film_look=preset.film_look,
            lighting=preset.lighting,
        )
        if preset
        else None,
        action=shot.action,
        description=shot.description,
    )


def prompt_for(
    session: Session,
    shot: Shot,
    template: WorkflowTemplate | None,
    characters: Mapping[uuid.UUID, Character] | None = None,
) -> PromptResult:
    """The prompt for a shot in the workflow's style (the generic natural style without a workflow)."""
    style: PromptStyle = style_for(template) if template is not None else DEFAULT_STYLE
    return build(shot_inputs(session, shot, characters), style)


def result_json(result: PromptResult, workflow: str | None) -> dict[str, Any]:
    return {
        "workflow": workflow,
        "style": {
            "family": result.style.family,
            "kind": result.style.kind,
            "max_words": result.style.max_words,
        },
        "positive": result.positive,
        "negative": result.negative,
        "words": result.words,
        "truncated": result.truncated,
        "fragments": [
            {"part": f.part, "group": f.group, "source": f.source, "text": f.text, "kept": f.kept}
            for f in result.fragments
        ],
        "loras": [{"name": x.name, "strength": x.strength, "source": x.source} for x in result.loras],
    }
