"""Confirm → the production folder tree. Only ever adds folders; nothing a user put there is touched."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from aipipe_shared.naming import NamingError, project_tree_dirs, safe_component

from ..db.models import Character, Environment, Project, Scene, Shot
from .layout import CodeError, ProjectLayout

logger = logging.getLogger(__name__)


@dataclass
class TreeResult:
    root: str  # the project folder, relative to the storage root
    created: list[str] = field(default_factory=list)
    existing: int = 0
    skipped: list[str] = field(default_factory=list)  # records whose codes the templates cannot place


def ensure_tree(session: Session, project: Project, storage_root: Path) -> TreeResult:
    """Create every missing folder of the project's tree (scenes, shots and stages, assets, edit, export)."""
    layout = ProjectLayout.of(project, storage_root)
    result = TreeResult(root=layout.build("project_dir"))
    scene_numbers: dict[object, int] = {}
    for scene in session.scalars(select(Scene).where(Scene.project_id == project.id)):
        try:
            scene_numbers[scene.id] = layout.scene_number(scene.code)
        except CodeError:
            result.skipped.append(f"scene {scene.code}")
    shots = []
    rows = session.execute(
        select(Shot.code, Shot.scene_id, Shot.status).where(Shot.project_id == project.id)
    ).all()
    for code, scene_id, status in rows:
        if status == "omitted" or scene_id not in scene_numbers:
            continue  # an omitted shot keeps the folders it has; it gets no new ones
        try:
            shots.append((scene_numbers[scene_id], layout.shot_number(code)))
        except CodeError:
            result.skipped.append(f"shot {code}")
    characters = [
        safe_component(n)
        for n in session.scalars(select(Character.name).where(Character.project_id == project.id))
    ]
    environments = [
        safe_component(n)
        for n in session.scalars(select(Environment.name).where(Environment.project_id == project.id))
    ]
    try:
        folders = project_tree_dirs(
            layout.templates,
            project=layout.project_field,
            scenes=sorted(set(scene_numbers.values())),
            shots=shots,
            characters=characters,
            environments=environments,
        )
    except NamingError as exc:
        raise CodeError(f"the project's naming templates cannot build its tree: {exc}") from exc
    for relative in folders:
        path = layout.absolute(relative)
        if path.is_dir():
            result.existing += 1
            continue
        path.mkdir(parents=True, exist_ok=True)
        result.created.append(relative)
    if result.skipped:
        logger.warning("tree: skipped records the naming templates cannot place: %s", result.skipped)
    return result
