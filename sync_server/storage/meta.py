"""The metadata files beside the media: project_config.json, scene_meta.json, shot_meta.json,
character_meta.json. Rewritten atomically from the database whenever their record changes."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aipipe_shared.naming import NamingError, safe_component

from ..catalog.characters import CharacterOut
from ..catalog.environments import EnvironmentOut
from ..catalog.presets import PresetOut
from ..catalog.scenes import SceneOut
from ..db.engine import Database
from ..db.models import Character, CinematicPreset, Environment, Project, Scene, Shot, Version
from ..projects.schemas import ProjectOut
from ..shots.schemas import ShotOut
from .atomic import atomic_write_json
from .layout import CodeError, ProjectLayout
from .tree import ensure_tree

logger = logging.getLogger(__name__)
FORMAT = "aipipeline.meta/1"


def _json(model: Any) -> dict[str, Any]:
    return model.model_dump(mode="json")


# The entities whose events rewrite metadata files (`_refresh`).
WRITTEN_ENTITIES = frozenset({"project", "scene", "shot", "version", "character", "environment", "preset"})


class MetaWriter:
    """Keeps the metadata files of confirmed projects equal to the database."""

    def __init__(self, db: Database | None, storage_root: Path) -> None:
        """`db` is needed only by `handle` (the server); `write_all` works on the session it is given."""
        self._db = db
        self._root = storage_root

    # -- whole project (confirm) ----------------------------------------------------------------------

    def write_all(self, session: Session, project: Project) -> list[str]:
        layout = ProjectLayout.of(project, self._root)
        written = [self._project(session, project, layout)]
        for scene in session.scalars(select(Scene).where(Scene.project_id == project.id)):
            written += self._scene(session, scene, layout)
        for shot in session.scalars(select(Shot).where(Shot.project_id == project.id)):
            written += self._shot(session, shot, layout)
        for character in session.scalars(select(Character).where(Character.project_id == project.id)):
            written += self._character(character, layout)
        return written

    # -- after events ---------------------------------------------------------------------------------

    @staticmethod
    def wants(message: dict[str, Any]) -> bool:
        """Farm jobs, agents, notes…: no metadata file shows them (and a farm sends many events)."""
        return bool(message.get("project_id")) and message.get("entity") in WRITTEN_ENTITIES

    def handle(self, messages: Iterable[dict[str, Any]]) -> None:
        """Rewrite the files touched by these live events (blocking; runs in a worker thread)."""
        by_project: dict[str, list[dict[str, Any]]] = {}
        for message in messages:
            if self.wants(message):
                by_project.setdefault(message["project_id"], []).append(message)
        for project_id, batch in by_project.items():
            try:
                self._handle_project(uuid.UUID(project_id), batch)
            except (OSError, CodeError, NamingError):
                logger.exception("metadata files of project %s could not be written", project_id)

    def _handle_project(self, project_id: uuid.UUID, batch: list[dict[str, Any]]) -> None:
        if self._db is None:
            raise RuntimeError("MetaWriter.handle needs a database")
        with self._db.read_sessions() as session:
            project = session.get(Project, project_id)
            if project is None or project.confirmed_at is None:
                return  # no tree yet: confirm writes everything
            layout = ProjectLayout.of(project, self._root)
            if any(m["action"].endswith(".created") for m in batch):
                ensure_tree(session, project, self._root)
            entities = {(m["entity"], m["entity_id"]) for m in batch}
            scenes: set[uuid.UUID] = set()  # each scene's file once per batch, however many of its shots
            for entity, entity_id in sorted(entities, key=lambda e: (e[0], e[1] or "")):
                self._refresh(session, project, layout, entity, entity_id, scenes)
            for scene_id in sorted(scenes):
                if (scene := session.get(Scene, scene_id)) is not None:
                    self._scene(session, scene, layout)

    def _refresh(
        self,
        session: Session,
        project: Project,
        layout: ProjectLayout,
        entity: str,
        entity_id: str | None,
        scenes: set[uuid.UUID],
    ) -> None:
        """Rewrite the files of one entity; the scenes whose shot lists may have changed go into `scenes`."""
        if entity == "project":
            self._project(session, project, layout)
            return
        if entity_id is None:
            return
        key = uuid.UUID(entity_id)
        if entity == "scene":
            scenes.add(key)
        elif entity == "shot" and (shot := session.get(Shot, key)) is not None:
            self._shot(session, shot, layout)
            scenes.add(shot.scene_id)
        elif entity == "version" and (version := session.get(Version, key)) is not None:
            if (shot := session.get(Shot, version.shot_id)) is not None:
                self._shot(session, shot, layout)
        elif entity == "character" and (character := session.get(Character, key)) is not None:
            self._character(character, layout)
        elif entity in ("environment", "preset"):
            # Shots show their environment and preset by name: rewrite the shots that use it.
            column = Shot.environment_id if entity == "environment" else Shot.preset_id
            for shot in session.scalars(select(Shot).where(column == key)):
                self._shot(session, shot, layout)

    # -- the files ------------------------------------------------------------------------------------

    def _write(self, layout: ProjectLayout, template: str, data: dict[str, Any], **fields: object) -> str:
        relative = layout.build(template, **fields)
        atomic_write_json(layout.absolute(relative), {"format": FORMAT, **data})
        return relative

    def _project(self, session: Session, project: Project, layout: ProjectLayout) -> str:
        scenes = session.scalars(
            select(Scene.code).where(Scene.project_id == project.id).order_by(Scene.sort_order, Scene.code)
        ).all()
        return self._write(
            layout,
            "project_config_file",
            {
                "project": _json(ProjectOut.of(project)),
                "naming": dict(layout.templates),
                "scenes": list(scenes),
            },
        )

    def _scene(self, session: Session, scene: Scene, layout: ProjectLayout) -> list[str]:
        try:
            number = layout.scene_number(scene.code)
        except CodeError:
            return []
        shots = session.scalars(
            select(Shot.code).where(Shot.scene_id == scene.id).order_by(Shot.sort_order)
        ).all()
        return [
            self._write(
                layout,
                "scene_meta_file",
                {"scene": _json(SceneOut.model_validate(scene)), "shots": list(shots)},
                scene=number,
            )
        ]

    def _shot(self, session: Session, shot: Shot, layout: ProjectLayout) -> list[str]:
        scene = session.get(Scene, shot.scene_id)
        try:
            fields = layout.shot_fields(scene.code if scene else "", shot.code)
        except CodeError:
            return []
        names = dict(
            session.execute(
                select(Character.id, Character.name).where(
                    Character.id.in_([s.character_id for s in shot.subjects])
                )
            ).all()
        )
        environment = session.get(Environment, shot.environment_id) if shot.environment_id else None
        preset = session.get(CinematicPreset, shot.preset_id) if shot.preset_id else None
        versions = session.scalars(
            select(Version).where(Version.shot_id == shot.id).order_by(Version.stage, Version.number)
        ).all()
        data = {
            "shot": _json(ShotOut.of(shot)),
            "scene_code": scene.code if scene else None,
            "subjects": [
                {"character": names.get(s.character_id), "clothing": s.clothing} for s in shot.subjects
            ],
            "environment": _json(EnvironmentOut.model_validate(environment)) if environment else None,
            "preset": _json(PresetOut.model_validate(preset)) if preset else None,
            "versions": [
                {
                    "stage": v.stage,
                    "number": v.number,
                    "path": v.path,
                    "verdict": v.verdict,
                    "comment": v.comment,
                    "created_by": v.created_by,
                    "created_at": v.created_at.isoformat(),
                }
                for v in versions
            ],
        }
        return [self._write(layout, "shot_meta_file", data, **fields)]

    def _character(self, character: Character, layout: ProjectLayout) -> list[str]:
        return [
            self._write(
                layout,
                "character_meta_file",
                {"character": _json(CharacterOut.model_validate(character))},
                character=safe_component(character.name),
            )
        ]
