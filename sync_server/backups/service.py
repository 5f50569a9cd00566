"""`aipipe backup create` and `aipipe backup restore`: what is checked, in which order, and what is kept."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection, create_engine, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from aipipe_shared.naming import TemplateSet
from aipipe_shared.version import __version__

from ..db.models import Project
from ..settings import Settings
from ..storage.layout import CodeError, project_folder, project_templates
from . import postgres, sqlite
from .bundle import (
    METADATA_TEMPLATES,
    PG_MEMBER,
    SQLITE_MEMBER,
    BackupError,
    BundleWriter,
    Manifest,
    MetadataRestore,
    extract_member,
    metadata_files,
    restore_metadata,
    storage_member,
    verify,
)

BACKUPS_DIR = "backups"
# Rows the migrations themselves insert: a database holding only these has no user data to lose.
SEEDED_TABLES = frozenset({"alembic_version", "cinematic_presets"})


@dataclass
class BackupResult:
    path: Path
    size: int
    manifest: Manifest
    metadata_files: int
    vanished: list[str] = field(default_factory=list)  # metadata files deleted while the backup ran


@dataclass
class RestoreResult:
    dialect: str
    target: str
    manifest: Manifest
    revision: str | None  # after the migrations ran
    kept_aside: Path | None
    metadata: MetadataRestore


def utc_stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def dialect_of(url: str) -> str:
    return make_url(url).get_backend_name()


# -- create ----------------------------------------------------------------------------------------------


def create_backup(settings: Settings, out: Path | None = None) -> BackupResult:
    """Snapshot the database and the production metadata into one zip, written atomically."""
    url = settings.resolved_database_url
    dialect = dialect_of(url)
    if dialect not in ("sqlite", "postgresql"):
        raise BackupError(f"backups support SQLite and PostgreSQL, not {dialect}")
    created_at = datetime.now(UTC)
    dest = backup_path(settings, out, created_at.strftime("%Y%m%dT%H%M%SZ"))
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=".aipipe-snapshot-", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    snapshot_file = Path(name)
    try:
        if dialect == "sqlite":
            sqlite.snapshot(sqlite.database_path(url), snapshot_file)
            state = sqlite_state(snapshot_file)
            member = SQLITE_MEMBER
        else:
            pg_dump = postgres.find_tool("pg_dump", settings.pg_dump)
            state = postgres.dump(url, snapshot_file, pg_dump, read_state)
            member = PG_MEMBER
        if state.revision is None:
            raise BackupError(
                "the database has no AIPipeline schema yet (no Alembic revision); there is nothing to back up"
            )
        return _write_bundle(settings, dest, snapshot_file, member, state, dialect, created_at)
    finally:
        with contextlib.suppress(FileNotFoundError):
            snapshot_file.unlink()


def backup_path(settings: Settings, out: Path | None, stamp: str) -> Path:
    """`--out` as given (a folder gets the default name), else `<data_dir>/backups/aipipe-backup-<t>.zip`."""
    name = f"aipipe-backup-{stamp}.zip"
    if out is None or out.is_dir():
        folder = out if out is not None else settings.data_dir / BACKUPS_DIR
        path = folder / name
        counter = 1
        while path.exists():  # two backups within one second
            counter += 1
            path = folder / f"aipipe-backup-{stamp}-{counter}.zip"
        return path.absolute()
    if out.exists():
        raise BackupError(f"{out} already exists; choose another --out (backups are never overwritten)")
    return out.absolute()


def _write_bundle(
    settings: Settings,
    dest: Path,
    snapshot_file: Path,
    member: str,
    state: DbState,
    dialect: str,
    created_at: datetime,
) -> BackupResult:
    root = settings.resolved_storage_root
    writer = BundleWriter(dest)
    vanished: list[str] = []
    try:
        writer.add_file(member, snapshot_file)
        for path in metadata_files(root, state.renamed_metadata):
            try:
                writer.add_file(storage_member(root, path), path)
            except FileNotFoundError:
                vanished.append(path.relative_to(root).as_posix())
        manifest = Manifest(
            created_at=created_at.isoformat().replace("+00:00", "Z"),
            server_version=__version__,
            alembic_revision=state.revision,
            dialect=dialect,
            database_member=member,
            row_counts=dict(sorted(state.counts.items())),
            members={},
            source=make_url(settings.resolved_database_url).render_as_string(hide_password=True),
            storage_root=str(root),
        )
        path = writer.finish(manifest)
    except BaseException:
        writer.abort()
        raise
    return BackupResult(path, path.stat().st_size, manifest, len(manifest.metadata_members), vanished)


@dataclass
class DbState:
    """What one snapshot of the database holds."""

    counts: dict[str, int]  # rows per table
    revision: str | None  # Alembic
    renamed_metadata: dict[str, TemplateSet]  # project folder -> templates, where naming renames a file


def read_state(conn: Connection) -> DbState:
    """Row counts of every table and the Alembic revision, as this connection's transaction sees them."""
    quote = conn.dialect.identifier_preparer.quote
    counts = {
        table: int(conn.execute(text(f"SELECT count(*) FROM {quote(table)}")).scalar_one())
        for table in sorted(inspect(conn).get_table_names())
    }
    revision = None
    if "alembic_version" in counts:
        revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return DbState(counts, revision, _renamed_metadata(conn) if counts.get("projects") else {})


def _renamed_metadata(conn: Connection) -> dict[str, TemplateSet]:
    """Projects whose naming overrides rename a metadata file, so the walk must ask their templates."""
    if "naming" not in {column["name"] for column in inspect(conn).get_columns("projects")}:
        return {}  # a schema from before per-project naming
    found: dict[str, TemplateSet] = {}
    for code, storage_root, naming in conn.execute(
        select(Project.code, Project.storage_root, Project.naming)
    ):
        if naming and any(name in naming for name in METADATA_TEMPLATES):
            with contextlib.suppress(CodeError, ValueError):
                found[project_folder(Project(code=code, storage_root=storage_root))] = project_templates(
                    naming
                )
    return found


def sqlite_state(path: Path, read_only: bool = True) -> DbState:
    # Read-only on a snapshot; read-write on a stopped database, so that closing removes its -wal/-shm.
    uri = f"{path.as_uri()}?mode={'ro' if read_only else 'rw'}"
    engine = create_engine("sqlite://", creator=lambda: sqlite3.connect(uri, uri=True), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return read_state(conn)
    finally:
        engine.dispose()


def user_data(counts: dict[str, int]) -> dict[str, int]:
    """Tables that hold rows someone made (not just what the migrations seed)."""
    return {table: n for table, n in counts.items() if n and table not in SEEDED_TABLES}


# -- restore ---------------------------------------------------------------------------------------------


def restore_backup(settings: Settings, bundle_path: Path, force: bool = False) -> RestoreResult:
    """Verify, check the target, swap the database in, migrate to head, put back missing metadata files."""
    from ..db.migrate import upgrade

    manifest = verify(bundle_path)
    url = settings.resolved_database_url
    dialect = dialect_of(url)
    if manifest.dialect != dialect:
        raise BackupError(
            f"this is a {manifest.dialect} backup and the target database is {dialect}; restore it into a "
            f"{manifest.dialect} database (--database-url)"
        )
    _ensure_known_revision(url, manifest.alembic_revision)
    stamp = utc_stamp()
    if dialect == "sqlite":
        kept = _restore_sqlite(bundle_path, manifest, url, force, stamp)
        target = str(sqlite.database_path(url))
    else:
        kept = _restore_postgres(settings, bundle_path, manifest, url, force, stamp)
        target = make_url(url).render_as_string(hide_password=True)
    try:
        upgrade(url)
    except Exception as exc:
        raise BackupError(f"the backup was restored but migrating it to this version failed: {exc}") from exc
    settings.resolved_storage_root.mkdir(parents=True, exist_ok=True)
    metadata = restore_metadata(bundle_path, manifest, settings.resolved_storage_root)
    revision = _current_revision(url)
    return RestoreResult(dialect, target, manifest, revision, kept, metadata)


def _ensure_known_revision(url: str, revision: str | None) -> None:
    from alembic.script import ScriptDirectory

    from ..db.migrate import alembic_config

    script = ScriptDirectory.from_config(alembic_config(url))
    try:
        known = revision is not None and script.get_revision(revision) is not None
    except Exception:
        known = False
    if not known:
        raise BackupError(
            f"the backup's schema revision {revision!r} is unknown to this aipipe (head is "
            f"{script.get_current_head()}); it was made by a newer version — upgrade aipipe to restore it"
        )


def _current_revision(url: str) -> str | None:
    from ..db.engine import make_engine
    from ..db.migrate import current_revision

    engine = make_engine(url, pool_size=1)
    try:
        return current_revision(engine)
    finally:
        engine.dispose()


def _refuse_populated(where: str, data: dict[str, int], aside: str) -> BackupError:
    summary = ", ".join(f"{table}: {n}" for table, n in sorted(data.items()))
    return BackupError(
        f"{where} already holds data ({summary}); restoring would replace it. Run again with --force to "
        f"replace it — the current database is then kept as {aside}"
    )


def _restore_sqlite(bundle_path: Path, manifest: Manifest, url: str, force: bool, stamp: str) -> Path | None:
    target = sqlite.database_path(url)
    suffix = f".before-restore-{stamp}"
    if target.exists():
        sqlite.ensure_not_in_use(target)
        data = user_data(sqlite_state(target, read_only=False).counts)
        if data and not force:
            raise _refuse_populated(str(target), data, target.name + suffix)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.restore-", suffix=".tmp", dir=target.parent)
    staged = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            extract_member(bundle_path, manifest.database_member, _sha(manifest), out)
        check = sqlite.integrity_check(staged)
        if check != "ok":
            raise BackupError(f"the database in {bundle_path} fails its integrity check: {check}")
        _check_counts(manifest, sqlite_state(staged).counts, str(bundle_path))
        kept = sqlite.move_aside(target, suffix) if target.exists() else None
        sqlite.install(staged, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            staged.unlink()
    return kept


def _restore_postgres(
    settings: Settings, bundle_path: Path, manifest: Manifest, url: str, force: bool, stamp: str
) -> Path | None:
    pg_restore = postgres.find_tool("pg_restore", settings.pg_dump)

    def look(conn: Connection) -> tuple[list[str], dict[str, int]]:
        return postgres.other_sessions(conn), read_state(conn).counts

    sessions, counts = postgres.with_connection(url, look)
    database = make_url(url).database or "postgres"
    folder = (settings.data_dir / BACKUPS_DIR).absolute()
    aside = folder / f"{database}.before-restore-{stamp}.pgdump"
    if sessions:
        raise BackupError(
            f"{len(sessions)} other session(s) are connected to database {database} "
            f"({'; '.join(sessions[:5])}); stop the AIPipeline servers (and other clients) before restoring"
        )
    data = user_data(counts)
    if data and not force:
        raise _refuse_populated(f"database {database}", data, str(aside))
    folder.mkdir(parents=True, exist_ok=True)
    kept = None
    if counts:
        postgres.dump_plain(url, aside, postgres.find_tool("pg_dump", settings.pg_dump))
        kept = aside
    fd, name = tempfile.mkstemp(prefix=".aipipe-restore-", suffix=".pgdump", dir=folder)
    staged = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            extract_member(bundle_path, manifest.database_member, _sha(manifest), out)
        postgres.restore(url, staged, pg_restore)
    finally:
        with contextlib.suppress(FileNotFoundError):
            staged.unlink()
    restored = postgres.with_connection(url, lambda conn: read_state(conn).counts)
    _check_counts(manifest, {t: restored.get(t, -1) for t in manifest.row_counts}, f"database {database}")
    return kept


def _sha(manifest: Manifest) -> str:
    return str(manifest.members[manifest.database_member]["sha256"])


def _check_counts(manifest: Manifest, counts: dict[str, int], where: str) -> None:
    differ = {t: (n, counts.get(t)) for t, n in manifest.row_counts.items() if counts.get(t) != n}
    if differ:
        detail = ", ".join(f"{t}: {want} expected, {got} found" for t, (want, got) in sorted(differ.items()))
        raise BackupError(f"the restored rows in {where} do not match the manifest ({detail})")
