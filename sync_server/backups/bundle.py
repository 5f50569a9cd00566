"""The backup file: one zip with the database snapshot, the production metadata and `manifest.json`.

Layout inside the zip::

    manifest.json                      format, versions, dialect, row counts, sha256 of every member
    database/aipipe.sqlite3            SQLite: a page-for-page snapshot   (or)
    database/aipipe.pgdump             PostgreSQL: `pg_dump --format=custom`
    storage/<path under storage root>  project_config.json, scene/shot/character meta, timeline_state.json

A backup is written to a temporary file beside its destination and renamed into place, so a backup that
exists is a whole one. `verify` reads every member back against the manifest before anything is restored.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

from aipipe_shared.naming import TemplateSet

from ..storage.atomic import atomic_write_bytes, fsync_dir

FORMAT = "aipipe-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database/aipipe.sqlite3"
PG_MEMBER = "database/aipipe.pgdump"
STORAGE_PREFIX = "storage/"
# The production tree's metadata files (see the naming engine's *_file templates); media is not backed up.
METADATA_FILES = frozenset(
    {"project_config.json", "scene_meta.json", "shot_meta.json", "character_meta.json", "timeline_state.json"}
)
METADATA_TEMPLATES = (
    "project_config_file",
    "scene_meta_file",
    "shot_meta_file",
    "character_meta_file",
    "timeline_state_file",
)
CHUNK = 1024 * 1024


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message says why and what to do."""


@dataclass
class Manifest:
    """What `manifest.json` says about a backup."""

    created_at: str
    server_version: str
    alembic_revision: str | None
    dialect: str
    database_member: str
    row_counts: dict[str, int]
    members: dict[str, dict[str, Any]]  # name -> {"sha256", "size"}
    source: str = ""
    storage_root: str = ""
    format_version: int = FORMAT_VERSION

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": self.format_version,
            "created_at": self.created_at,
            "server_version": self.server_version,
            "alembic_revision": self.alembic_revision,
            "dialect": self.dialect,
            "source": self.source,
            "storage_root": self.storage_root,
            "database": self.database_member,
            "row_counts": self.row_counts,
            "members": self.members,
        }

    @classmethod
    def from_json(cls, data: Any) -> Manifest:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise BackupError(f"{MANIFEST} is not an AIPipeline backup manifest")
        version = data.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise BackupError(
                f"backup format version {version!r} is newer than this aipipe reads ({FORMAT_VERSION}); "
                "upgrade aipipe to restore it"
            )
        try:
            manifest = cls(
                created_at=str(data["created_at"]),
                server_version=str(data["server_version"]),
                alembic_revision=data["alembic_revision"],
                dialect=str(data["dialect"]),
                database_member=str(data["database"]),
                row_counts={str(k): int(v) for k, v in data["row_counts"].items()},
                members={str(k): dict(v) for k, v in data["members"].items()},
                source=str(data.get("source", "")),
                storage_root=str(data.get("storage_root", "")),
                format_version=version,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BackupError(f"{MANIFEST} is incomplete or malformed ({exc!r})") from exc
        if manifest.database_member not in manifest.members:
            raise BackupError(f"{MANIFEST} does not list the database member {manifest.database_member}")
        return manifest

    @property
    def metadata_members(self) -> list[str]:
        return sorted(name for name in self.members if name.startswith(STORAGE_PREFIX))


def metadata_files(storage_root: Path, renamed: Mapping[str, TemplateSet] | None = None) -> Iterator[Path]:
    """The production tree's metadata files under `storage_root` (symlinks are not followed).

    Files have their default names, except in project folders listed in `renamed`, whose own naming
    templates decide what a metadata file is.
    """
    if not storage_root.is_dir():
        return
    renamed = renamed or {}
    for folder, dirs, files in os.walk(storage_root):
        dirs.sort()
        for name in sorted(files):
            path = Path(folder, name)
            if path.is_symlink() or not path.is_file():
                continue
            relative = path.relative_to(storage_root).as_posix()
            templates = renamed.get(relative.split("/", 1)[0])
            if templates is None:
                if name in METADATA_FILES:
                    yield path
                continue
            match = templates.identify(relative, names=METADATA_TEMPLATES)
            if match is not None and match.exact:
                yield path


def storage_member(storage_root: Path, path: Path) -> str:
    return STORAGE_PREFIX + path.relative_to(storage_root).as_posix()


def storage_relative(member: str) -> PurePosixPath:
    """The path under the storage root that a `storage/...` member restores to; refuses escapes."""
    relative = PurePosixPath(member[len(STORAGE_PREFIX) :])
    if relative.is_absolute() or ".." in relative.parts or not relative.parts or "\\" in member:
        raise BackupError(f"backup member {member!r} points outside the storage root")
    return relative


class BundleWriter:
    """Writes a backup zip to a temporary file and renames it to `path` in `finish()`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        # mkstemp makes the file 0600: a backup holds password and API-key hashes.
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        self._tmp = Path(tmp)
        self._handle = os.fdopen(fd, "wb")
        self._zip = zipfile.ZipFile(self._handle, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True)
        self.members: dict[str, dict[str, Any]] = {}

    def add_file(self, member: str, source: Path) -> None:
        """Stream `source` into the zip, hashing as it goes."""
        info = zipfile.ZipInfo.from_file(source, member)
        info.compress_type = zipfile.ZIP_DEFLATED
        digest = hashlib.sha256()
        size = 0
        with source.open("rb") as src, self._zip.open(info, "w", force_zip64=True) as dst:
            while chunk := src.read(CHUNK):
                digest.update(chunk)
                dst.write(chunk)
                size += len(chunk)
        self.members[member] = {"sha256": digest.hexdigest(), "size": size}

    def finish(self, manifest: Manifest) -> Path:
        manifest.members = dict(self.members)
        text = json.dumps(manifest.to_json(), ensure_ascii=False, indent=2, sort_keys=True) + "\n"
        self._zip.writestr(MANIFEST, text.encode("utf-8"))
        self._zip.close()
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        if self.path.exists():
            raise BackupError(f"{self.path} appeared while the backup was written; not replacing it")
        os.replace(self._tmp, self.path)
        fsync_dir(self.path.parent)
        return self.path

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self._zip.close()
        with contextlib.suppress(Exception):
            self._handle.close()
        with contextlib.suppress(FileNotFoundError):
            self._tmp.unlink()


def verify(path: Path) -> Manifest:
    """Read the manifest and check every member's size and sha256; raise `BackupError` if anything is off."""
    if not path.is_file():
        raise BackupError(f"{path} does not exist or is not a file")
    try:
        with zipfile.ZipFile(path) as bundle:
            try:
                raw = bundle.read(MANIFEST)
            except KeyError as exc:
                raise BackupError(f"{path} has no {MANIFEST}; it is not an AIPipeline backup") from exc
            try:
                manifest = Manifest.from_json(json.loads(raw.decode("utf-8")))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise BackupError(f"{MANIFEST} in {path} is not valid JSON: {exc}") from exc
            names = set(bundle.namelist())
            for member, expected in sorted(manifest.members.items()):
                if member.startswith(STORAGE_PREFIX):
                    storage_relative(member)
                if member not in names:
                    raise BackupError(f"{path} is missing {member}, which its manifest lists")
                digest, size = _hash_member(bundle, member)
                if size != expected.get("size") or digest != expected.get("sha256"):
                    raise BackupError(
                        f"{member} in {path} does not match its checksum in the manifest; the file is corrupt"
                    )
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError) as exc:
        raise BackupError(f"{path} is not a readable backup (truncated or corrupt?): {exc}") from exc
    return manifest


def _hash_member(bundle: zipfile.ZipFile, member: str) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with bundle.open(member) as src:
        while chunk := src.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def extract_member(bundle_path: Path, member: str, expected_sha256: str, dest: IO[bytes]) -> None:
    """Stream one member into `dest`, checking its sha256 again on the way (the file may have changed)."""
    digest = hashlib.sha256()
    try:
        with zipfile.ZipFile(bundle_path) as bundle, bundle.open(member) as src:
            while chunk := src.read(CHUNK):
                digest.update(chunk)
                dest.write(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, KeyError) as exc:
        raise BackupError(f"could not read {member} from {bundle_path}: {exc}") from exc
    if digest.hexdigest() != expected_sha256:
        raise BackupError(f"{member} in {bundle_path} changed since it was verified; not restoring it")
    dest.flush()
    os.fsync(dest.fileno())


@dataclass
class MetadataRestore:
    """What happened to each metadata file on restore."""

    restored: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # already present: the newer file on disk is kept


def restore_metadata(bundle_path: Path, manifest: Manifest, storage_root: Path) -> MetadataRestore:
    """Write back the metadata files that are missing under `storage_root`; never replace one that exists."""
    result = MetadataRestore()
    with zipfile.ZipFile(bundle_path) as bundle:
        for member in manifest.metadata_members:
            relative = storage_relative(member)
            dest = storage_root.joinpath(*relative.parts)
            if dest.exists():
                result.skipped.append(relative.as_posix())
                continue
            data = bundle.read(member)
            if hashlib.sha256(data).hexdigest() != manifest.members[member]["sha256"]:
                raise BackupError(
                    f"{member} in {bundle_path} changed since it was verified; not restoring it"
                )
            atomic_write_bytes(dest, data)
            result.restored.append(relative.as_posix())
    return result
