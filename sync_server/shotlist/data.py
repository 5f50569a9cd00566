"""The project's shot list as spreadsheet rows, and the lookups that turn names in a sheet back into ids."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from aipipe_shared.framerate import fps_text

from ..db.models import Character, CinematicPreset, Environment, Project, Scene, Shot, ShotSubject, Version

# The API field behind each editable shot column, and back.
FIELD_OF = {
    "scene": "scene_id",
    "code": "code",
    "status": "status",
    "description": "description",
    "action": "action",
    "dialogue": "dialogue",
    "camera_notes": "camera_notes",
    "duration_frames": "duration_frames",
    "handle_in": "handle_in",
    "handle_out": "handle_out",
    "preset": "preset_id",
    "environment": "environment_id",
    "characters": "subjects",
}
COLUMN_OF = {api: column for column, api in FIELD_OF.items()}


@dataclass
class Lookups:
    """Names as people write them in a sheet (case-insensitive) to ids, and ids back to names."""

    scenes: dict[str, str] = field(default_factory=dict)  # code -> id
    presets: dict[str, str] = field(default_factory=dict)  # name -> id
    environments: dict[str, str] = field(default_factory=dict)
    characters: dict[str, str] = field(default_factory=dict)  # name or alias -> id
    clothing: dict[str, list[str]] = field(default_factory=dict)  # character id -> options
    names: dict[str, str] = field(default_factory=dict)  # any id -> its code or name

    def find(self, table: dict[str, str], text: str) -> str | None:
        return table.get(text.strip().casefold())


def lookups(session: Session, project_id: uuid.UUID) -> Lookups:
    found = Lookups()
    for sid, code in session.execute(select(Scene.id, Scene.code).where(Scene.project_id == project_id)):
        found.scenes[code.casefold()] = str(sid)
        found.names[str(sid)] = code
    presets = select(CinematicPreset.id, CinematicPreset.name, CinematicPreset.project_id).where(
        or_(CinematicPreset.project_id == project_id, CinematicPreset.project_id.is_(None))
    )
    # A project's own preset wins over a built-in of the same name.
    for pid, name, _owner in sorted(session.execute(presets), key=lambda row: row[2] is not None):
        found.presets[name.casefold()] = str(pid)
        found.names[str(pid)] = name
    for eid, name in session.execute(
        select(Environment.id, Environment.name).where(Environment.project_id == project_id)
    ):
        found.environments[name.casefold()] = str(eid)
        found.names[str(eid)] = name
    for character in session.scalars(select(Character).where(Character.project_id == project_id)):
        cid = str(character.id)
        for alias in character.aliases or []:
            found.characters.setdefault(alias.casefold(), cid)
        found.characters[character.name.casefold()] = cid
        found.clothing[cid] = list(character.clothing_options or [])
        found.names[cid] = character.name
    return found


def subjects_text(subjects: list[dict[str, Any]], names: dict[str, str]) -> str:
    """`Mina (raincoat); Joon` from [{character_id, clothing}]."""
    parts = []
    for subject in subjects:
        name = names.get(str(subject["character_id"]), str(subject["character_id"]))
        parts.append(f"{name} ({subject['clothing']})" if subject.get("clothing") else name)
    return "; ".join(parts)


def display(api_field: str, value: Any, names: dict[str, str]) -> Any:
    """A field's API value as the sheet shows it (ids as codes and names)."""
    if api_field == "subjects":
        return subjects_text(value or [], names)
    if api_field in ("scene_id", "preset_id", "environment_id"):
        return names.get(str(value), str(value)) if value else ""
    return value


@dataclass
class ShotRow:
    id: str
    revision: int
    values: dict[str, Any]  # API field -> JSON value (ids as strings)
    order: int
    locked: bool
    updated_at: datetime
    created_at: datetime
    thumbnail: Path | None = None
    record: dict[str, Any] = field(default_factory=dict, repr=False)  # the row as stored (every column)


def shot_rows(session: Session, project_id: uuid.UUID, storage_root: Path | None = None) -> list[ShotRow]:
    """Every shot of the project in cut order, with the path of its newest thumbnail (if asked)."""
    subjects: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for shot_id, character_id, clothing in session.execute(
        select(ShotSubject.shot_id, ShotSubject.character_id, ShotSubject.clothing)
        .join(Shot, Shot.id == ShotSubject.shot_id)
        .where(Shot.project_id == project_id)
        .order_by(ShotSubject.shot_id, ShotSubject.position)
    ):
        subjects.setdefault(shot_id, []).append({"character_id": str(character_id), "clothing": clothing})
    thumbs: dict[uuid.UUID, Path] = {}
    if storage_root is not None:
        newest = (
            select(Version.shot_id, Version.thumbnail)
            .where(Version.project_id == project_id, Version.thumbnail.is_not(None))
            .order_by(Version.created_at)
        )
        for shot_id, relative in session.execute(newest):
            thumbs[shot_id] = storage_root / relative  # later rows (newer versions) win
    rows = []
    for shot in session.execute(
        select(Shot.__table__).where(Shot.project_id == project_id).order_by(Shot.sort_order, Shot.code)
    ).mappings():
        values = {api: shot[api] for api in FIELD_OF.values() if api != "subjects"}
        for key in ("scene_id", "preset_id", "environment_id"):
            values[key] = str(values[key]) if values[key] is not None else None
        values["subjects"] = subjects.get(shot["id"], [])
        rows.append(
            ShotRow(
                id=str(shot["id"]),
                revision=shot["revision"],
                values=values,
                order=shot["sort_order"],
                locked=shot["locked"],
                updated_at=_aware(shot["updated_at"]),
                created_at=_aware(shot["created_at"]),
                thumbnail=thumbs.get(shot["id"]),
                record=dict(shot),
            )
        )
    return rows


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def project_specs(project: Project) -> list[tuple[str, Any]]:
    """The technical specs of a project, as (setting, value) rows."""
    return [
        ("Project code", project.code),
        ("Project name", project.name),
        ("Frame rate", fps_text(project.fps_num, project.fps_den)),
        ("Resolution", f"{project.width}x{project.height}"),
        ("Width (px)", project.width),
        ("Height (px)", project.height),
        ("Handle in (frames)", project.handle_in),
        ("Handle out (frames)", project.handle_out),
        ("Confirmed", project.confirmed_at.isoformat() if project.confirmed_at else ""),
        *[(f"Naming: {key}", value) for key, value in sorted((project.naming or {}).items())],
    ]
