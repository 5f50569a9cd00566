"""Apply a draft: scenes, shots, characters and environments, all in one transaction.

Every item not dropped is applied. A character whose name or an alias matches an existing character's
name or alias merges into it (new aliases and clothing are added, an empty description is filled);
environments merge by name the same way. Scenes and shots are always new, appended after the project's
last ones. Any refusal rolls the whole apply back: the project is as it was.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select

from .. import resources
from ..catalog.characters import CHARACTER
from ..catalog.environments import ENVIRONMENT
from ..catalog.scenes import SCENE, scene_code_for
from ..context import UnitOfWork
from ..db.base import utcnow
from ..db.models import Character, CinematicPreset, Environment, Project, Scene, Shot, ShotSubject
from ..errors import Unprocessable
from ..shots.codes import SHOT_STEP, next_shot_code
from ..shots.service import SHOT, lock_project_codes
from ..storage.layout import ProjectLayout
from .draft import DraftCharacter, DraftContent, DraftEnvironment
from .schemas import DraftOut
from .service import _editable, find_character, find_environment, save

ORDER_STEP = 1000


def _merge_list(existing: list[str], extra: list[str], exclude: str = "") -> list[str]:
    seen = {v.casefold() for v in existing} | ({exclude.casefold()} if exclude else set())
    merged = list(existing)
    for value in extra:
        if value and value.casefold() not in seen:
            seen.add(value.casefold())
            merged.append(value)
    return merged


def _character(uow: UnitOfWork, project: Project, item: DraftCharacter, report: dict[str, Any]) -> Character:
    existing = find_character(uow.session, project.id, [item.name, *item.aliases])
    if existing is None:
        character = Character(
            project_id=project.id,
            name=item.name,
            aliases=list(item.aliases),
            description=item.description,
            clothing_options=list(item.clothing),
        )
        resources.create(uow, CHARACTER, character, commit=False)
        report["characters_created"].append({"ref": item.id, "id": str(character.id), "name": character.name})
        return character
    values = {
        "aliases": _merge_list(existing.aliases, [item.name, *item.aliases], exclude=existing.name),
        "clothing_options": _merge_list(existing.clothing_options, item.clothing),
    }
    if not existing.description and item.description:
        values["description"] = item.description
    resources.update(uow, CHARACTER, existing, values, existing.revision, commit=False)
    report["characters_merged"].append({"ref": item.id, "id": str(existing.id), "name": existing.name})
    return existing


def _environment(
    uow: UnitOfWork, project: Project, item: DraftEnvironment, report: dict[str, Any]
) -> Environment:
    existing = find_environment(uow.session, project.id, item.name)
    fields = ("location", "time_of_day", "weather", "mood", "prompt", "description")
    if existing is None:
        environment = Environment(
            project_id=project.id, name=item.name, **{f: getattr(item, f) for f in fields}
        )
        resources.create(uow, ENVIRONMENT, environment, commit=False)
        report["environments_created"].append({"ref": item.id, "id": str(environment.id), "name": item.name})
        return environment
    values = {f: getattr(item, f) for f in fields if getattr(item, f) and not getattr(existing, f)}
    resources.update(uow, ENVIRONMENT, existing, values, existing.revision, commit=False)
    report["environments_merged"].append({"ref": item.id, "id": str(existing.id), "name": existing.name})
    return existing


def _clothing(chosen: str, options: list[str], text: str) -> str:
    """The subject's clothing: the draft's choice if it is one of the character's options, else the
    first option the shot's action names ("빨간 코트를 입은 리나가 ..."), else none."""
    if chosen and (chosen in options or not options):
        return chosen
    return next((option for option in options if option and option.casefold() in text.casefold()), "")


def _presets(uow: UnitOfWork, project_id: uuid.UUID) -> dict[str, uuid.UUID]:
    """Preset ids by lower-case name; the project's own win over built-ins of the same name."""
    found: dict[str, uuid.UUID] = {}
    for preset in uow.session.scalars(
        select(CinematicPreset)
        .where((CinematicPreset.project_id == project_id) | CinematicPreset.project_id.is_(None))
        .order_by(CinematicPreset.builtin.desc())
    ):
        found[preset.name.lower()] = preset.id
    return found


def apply_draft(uow: UnitOfWork, draft_id: uuid.UUID, revision: int) -> DraftOut:
    """Create what the draft holds in its project, or nothing at all."""
    session = uow.session
    draft = _editable(session, draft_id, revision)
    content = DraftContent.model_validate(draft.content)
    problems = content.problems()
    if problems:
        raise Unprocessable(problems[0][1], field=problems[0][0])
    project = lock_project_codes(session, draft.project_id)  # new shot codes: one writer at a time
    report: dict[str, Any] = {
        key: []
        for key in (
            "characters_created",
            "characters_merged",
            "environments_created",
            "environments_merged",
            "scenes",
            "shots",
            "skipped",
        )
    }
    characters = {
        item.id: _character(uow, project, item, report)
        for item in content.characters
        if item.decision != "dropped"
    }
    environments = {
        item.id: _environment(uow, project, item, report)
        for item in content.environments
        if item.decision != "dropped"
    }
    presets = _presets(uow, project.id)
    layout = ProjectLayout.of(project)
    fps = project.fps_num / project.fps_den
    codes = list(session.scalars(select(Shot.code).where(Shot.project_id == project.id)))
    order = session.scalar(select(func.max(Shot.sort_order)).where(Shot.project_id == project.id)) or 0
    scene_order = (
        session.scalar(select(func.max(Scene.sort_order)).where(Scene.project_id == project.id)) or 0
    )
    scenes: dict[str, Scene] = {}
    last_scene_code = ""
    last_shot_code = ""
    for item in content.scenes:
        if item.decision == "dropped":
            continue
        scene_order += 10
        # The next free code once, then counting on (parsing every code per scene would be quadratic).
        scene_code = (
            layout.scene_code(layout.scene_number(last_scene_code) + 1)
            if last_scene_code
            else scene_code_for(uow, project, None)
        )
        last_scene_code = scene_code
        scene = Scene(
            project_id=project.id,
            code=scene_code,
            name=(item.name or item.heading)[:200],
            description=item.description,
            sort_order=scene_order,
        )
        resources.create(uow, SCENE, scene, commit=False)
        scenes[item.id] = scene
        report["scenes"].append({"ref": item.id, "id": str(scene.id), "code": scene.code})
    for item in content.shots:
        if item.decision == "dropped" or item.scene_ref not in scenes:
            if item.decision != "dropped":
                report["skipped"].append({"ref": item.id, "why": f"its scene {item.scene_ref} is dropped"})
            continue
        code = (
            layout.shot_code(layout.shot_number(last_shot_code) + SHOT_STEP)
            if last_shot_code
            else next_shot_code(layout, codes)
        )
        last_shot_code = code
        order += ORDER_STEP
        preset_id = presets.get(item.preset.lower()) if item.preset else None
        if item.preset and preset_id is None:
            raise Unprocessable(
                f"{item.id}: no cinematic preset named '{item.preset}' in this project or the built-ins",
                field=f"{item.id}.preset",
            )
        environment = environments.get(item.environment_ref) if item.environment_ref else None
        shot = Shot(
            project_id=project.id,
            scene_id=scenes[item.scene_ref].id,
            code=code,
            sort_order=order,
            description=item.description,
            action=item.action,
            dialogue=item.dialogue,
            camera_notes="; ".join(x for x in (item.suggested_camera, item.camera_notes) if x),
            duration_frames=max(1, round(item.duration_s * fps)),
            preset_id=preset_id,
            environment_id=environment.id if environment else None,
        )
        subjects: list[ShotSubject] = []
        for subject in item.subjects:
            character = characters.get(subject.character_ref)
            if character is None or any(s.character_id == character.id for s in subjects):
                continue
            clothing = _clothing(
                subject.clothing, character.clothing_options, f"{item.action} {item.description}"
            )
            subjects.append(ShotSubject(character_id=character.id, clothing=clothing, position=len(subjects)))
        shot.subjects = subjects
        resources.create(uow, SHOT, shot, commit=False)
        report["shots"].append({"ref": item.id, "id": str(shot.id), "code": code})
    counts = {key: len(value) for key, value in report.items()}
    out = save(
        uow,
        draft,
        {"status": "applied", "result": report, "applied_by": uow.actor.name, "applied_at": utcnow()},
        revision,
        {"status": ["draft", "applied"], "result": [None, counts]},
    )
    uow.commit()
    return out
