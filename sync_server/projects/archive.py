"""`aipipe project archive`: a project's folder and its database records in one zip (hand-off, cold storage).

Inside the zip every file keeps its path under the storage root (`<project folder>/scenes/...`),
`project.json` holds the project's records (project, scenes, shots with subjects, characters and their
reference images, environments, presets, versions with files and review notes, camera solutions, delivery
masters and dailies with the files they made), and
`MANIFEST.sha256` the sha256 of every other file in the zip (see `archive_manifest`; `aipipe project
verify` checks it).
Files are streamed in, media that is already compressed is stored as it is, and the zip is written to a
temporary file and renamed into place.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, inspect, or_, select
from sqlalchemy.orm import Session

from aipipe_shared.version import __version__

from ..db.engine import make_database
from ..db.models import (
    Character,
    CharacterReference,
    CinematicPreset,
    Environment,
    Project,
    ReviewNote,
    Scene,
    Shot,
    Version,
)
from ..db.models_camera import CameraSolutionRecord
from ..db.models_dailies import Dailies
from ..db.models_delivery import Delivery
from ..settings import Settings
from ..storage.atomic import fsync_dir, new_file_mode
from ..storage.layout import project_folder
from .archive_manifest import MANIFEST_NAME, manifest_text

FORMAT = "aipipe-project-archive"
FORMAT_VERSION = 1
PROJECT_JSON = "project.json"
ARCHIVES_DIR = "archives"
CHUNK = 1024 * 1024
# Already compressed: deflating them again costs time and saves nothing.
STORED_EXTENSIONS = frozenset(
    {
        "mp4", "mov", "m4v", "mkv", "webm", "avi", "mxf", "png", "jpg", "jpeg", "webp", "exr", "gif",
        "heic", "avif", "mp3", "m4a", "aac", "ogg", "flac", "zip", "gz", "bz2", "xz", "zst", "7z",
    }
)  # fmt: skip


class ArchiveError(Exception):
    """An archive that cannot be made; the message says why."""


@dataclass
class ArchiveResult:
    path: Path
    project_code: str
    folder: str
    files: int
    bytes_in: int
    size: int
    missing: list[str] = field(default_factory=list)  # version files the database lists but the disk lacks
    skipped: list[str] = field(default_factory=list)  # symlinks and files that vanished while archiving


def archive_project(settings: Settings, code: str, out: Path | None = None) -> ArchiveResult:
    """Archive the project with `code` (exact, else case-insensitive) into one zip; returns where it went."""
    root = settings.resolved_storage_root
    db = make_database(settings.resolved_database_url)
    try:
        with db.read_sessions() as session:
            if db.dialect == "postgresql":
                # One snapshot for every query below, so the export is consistent while writes go on.
                session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            project = find_project(session, code)
            records = export_project(session, project)
    finally:
        db.dispose()
    folder = project_folder(project)
    dest = archive_path(settings, out, folder)
    files = _project_files(root / folder)
    referenced = {f["path"] for v in records["versions"] for f in v["files"]} | _post_files(records)
    in_folder = {path.relative_to(root).as_posix() for path in files}
    outside = sorted(p for p in referenced - in_folder if _inside(root, p) and (root / p).is_file())
    files += [root / p for p in outside]
    missing = sorted(p for p in referenced if p not in in_folder and p not in outside)
    records["storage_folder"] = folder
    records["missing_files"] = missing
    return _write_zip(dest, root, project.code, folder, records, files, missing)


def find_project(session: Session, code: str) -> Project:
    project = session.scalar(select(Project).where(Project.code == code))
    if project is None:
        project = session.scalar(select(Project).where(func.lower(Project.code) == code.lower()))
    if project is None:
        known = session.scalars(select(Project.code).order_by(Project.code).limit(20)).all()
        listing = ", ".join(known) if known else "none yet"
        raise ArchiveError(f"no project with code '{code}' (projects: {listing})")
    return project


def archive_path(settings: Settings, out: Path | None, folder: str) -> Path:
    """`--out` as given (a folder gets the default name), else `<data_dir>/archives/<folder>-<stamp>.zip`."""
    name = f"{folder}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.zip"
    if out is None or out.is_dir():
        return ((out if out is not None else settings.data_dir / ARCHIVES_DIR) / name).absolute()
    if out.exists():
        raise ArchiveError(f"{out} already exists; choose another --out (archives are never overwritten)")
    return out.absolute()


# -- records -----------------------------------------------------------------------------------------------


def export_project(session: Session, project: Project) -> dict[str, Any]:
    """The project's records as plain JSON values (ids and times as strings)."""
    pid = project.id
    shots = session.scalars(select(Shot).where(Shot.project_id == pid).order_by(Shot.sort_order, Shot.code))
    versions = session.scalars(
        select(Version)
        .where(Version.project_id == pid)
        .order_by(Version.shot_id, Version.stage, Version.number)
    ).all()
    notes: dict[uuid.UUID, list[dict[str, Any]]] = {}
    if versions:
        for note in session.scalars(
            select(ReviewNote)
            .where(ReviewNote.version_id.in_([v.id for v in versions]))
            .order_by(ReviewNote.created_at)
        ):
            notes.setdefault(note.version_id, []).append(row(note))
    shot_list = [{**row(s), "subjects": [row(subject) for subject in s.subjects]} for s in shots]
    used_presets = {s["preset_id"] for s in shot_list if s["preset_id"]}
    presets = session.scalars(
        select(CinematicPreset)
        .where(
            or_(
                CinematicPreset.project_id == pid,
                CinematicPreset.id.in_([uuid.UUID(p) for p in used_presets]),
            )
        )
        .order_by(CinematicPreset.name)
    )
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "server_version": __version__,
        "project": row(project),
        "scenes": _rows(session, Scene, pid, Scene.sort_order, Scene.code),
        "shots": shot_list,
        "characters": _rows(session, Character, pid, Character.name),
        "character_references": _rows(
            session, CharacterReference, pid, CharacterReference.character_id, CharacterReference.name
        ),
        "environments": _rows(session, Environment, pid, Environment.name),
        "presets": [row(p) for p in presets],  # the project's own, and built-ins its shots use
        "camera_solutions": _rows(
            session, CameraSolutionRecord, pid, CameraSolutionRecord.created_at, CameraSolutionRecord.id
        ),
        "versions": [
            {**row(v), "files": [row(f) for f in v.files], "review_notes": notes.get(v.id, [])}
            for v in versions
        ],
        # Post: delivery masters (delivery/vNNN/) and dailies (export/dailies/<day>/vNNN/), files listed.
        "deliveries": _rows(session, Delivery, pid, Delivery.number),
        "dailies": _rows(session, Dailies, pid, Dailies.day, Dailies.number),
    }


def _post_files(records: dict[str, Any]) -> set[str]:
    """The files the deliveries and dailies records name (relative to the storage root): archived even
    when they lie outside the project's folder, like version files."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            path = value.get("path")
            if isinstance(path, str) and "sha256" in value:
                found.add(path)
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for record in records.get("deliveries", []) + records.get("dailies", []):
        walk({k: v for k, v in record.items() if k != "path"})
    return found


def _rows(session: Session, model: Any, project_id: uuid.UUID, *order: Any) -> list[dict[str, Any]]:
    return [
        row(obj)
        for obj in session.scalars(select(model).where(model.project_id == project_id).order_by(*order))
    ]


def row(obj: Any) -> dict[str, Any]:
    """Every column of a mapped object, as JSON values."""
    return {attr.key: _plain(getattr(obj, attr.key)) for attr in inspect(type(obj)).column_attrs}


def _plain(value: Any) -> Any:
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


# -- files ---------------------------------------------------------------------------------------------------


def _project_files(folder: Path) -> list[Path]:
    found: list[Path] = []
    if not folder.is_dir():
        return found
    for current, dirs, names in os.walk(folder):
        dirs.sort()
        for name in sorted(names):
            if name.startswith(".") and name.endswith(".tmp"):
                continue  # an atomic write in progress (or this archive's own temporary file)
            found.append(Path(current, name))
    return found


def _inside(root: Path, relative: str) -> bool:
    try:
        return (root / relative).resolve().is_relative_to(root)
    except (OSError, ValueError):
        return False


def _add_file(bundle: zipfile.ZipFile, path: Path, arcname: str, compression: int) -> tuple[str, int]:
    """Stream `path` into the zip, hashing what is written (so the checksum is of the bytes archived)."""
    info = zipfile.ZipInfo.from_file(path, arcname)
    info.compress_type = compression
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as src, bundle.open(info, "w", force_zip64=True) as dst:
        while chunk := src.read(CHUNK):
            digest.update(chunk)
            dst.write(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _write_zip(
    dest: Path,
    root: Path,
    code: str,
    folder: str,
    records: dict[str, Any],
    files: list[Path],
    missing: list[str],
) -> ArchiveResult:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    tmp = Path(name)
    count, total, skipped = 0, 0, []
    try:
        with os.fdopen(fd, "wb") as handle:
            with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as bundle:
                text = json.dumps(records, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
                data = text.encode("utf-8")
                bundle.writestr(PROJECT_JSON, data)
                digests = {PROJECT_JSON: hashlib.sha256(data).hexdigest()}
                for path in files:
                    arcname = path.relative_to(root).as_posix()
                    if path.is_symlink() or not path.is_file() or arcname == MANIFEST_NAME:
                        skipped.append(arcname)
                        continue
                    suffix = path.suffix.lower().lstrip(".")
                    compression = zipfile.ZIP_STORED if suffix in STORED_EXTENSIONS else zipfile.ZIP_DEFLATED
                    try:
                        digests[arcname], size = _add_file(bundle, path, arcname, compression)
                    except FileNotFoundError:
                        skipped.append(arcname)
                        continue
                    count += 1
                    total += size
                bundle.writestr(MANIFEST_NAME, manifest_text(digests).encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        tmp.chmod(new_file_mode())
        if dest.exists():
            raise ArchiveError(f"{dest} appeared while the archive was written; not replacing it")
        os.replace(tmp, dest)
        fsync_dir(dest.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return ArchiveResult(dest, code, folder, count, total, dest.stat().st_size, missing, skipped)
