"""SQLite: an online snapshot through the backup API, and an atomic swap of the database file on restore."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url

from ..storage.atomic import fsync_dir
from .bundle import BackupError

LOCK_TIMEOUT_S = 0.5
SIDE_FILES = ("-wal", "-shm", "-journal")


def database_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise BackupError(f"cannot back up or restore the SQLite database {database!r}; give a file path")
    return Path(database).resolve()


def snapshot(source: Path, dest: Path) -> None:
    """Copy `source` to `dest` as one consistent snapshot while the server keeps writing.

    The source is opened read-only; the backup API copies every page in one step inside one read
    transaction, which in WAL mode does not block writers. The copy is switched to rollback-journal
    mode so it is a single self-contained file.
    """
    if not source.is_file():
        raise BackupError(f"no SQLite database at {source}; check --data-dir / --database-url")
    src = sqlite3.connect(f"{source.as_uri()}?mode=ro", uri=True, timeout=30)
    try:
        dst = sqlite3.connect(dest)
        try:
            src.backup(dst)  # pages=-1: all pages in one step, so one snapshot
            dst.execute("PRAGMA journal_mode=DELETE")
            check = dst.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            dst.close()
    except sqlite3.Error as exc:
        raise BackupError(f"could not snapshot {source}: {exc}") from exc
    finally:
        src.close()
    if check != "ok":
        raise BackupError(f"the snapshot of {source} fails its integrity check: {check}")


def integrity_check(path: Path) -> str:
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def ensure_not_in_use(path: Path) -> None:
    """Refuse when another process (a running server) has the database open; checkpoint it otherwise.

    Every open connection to a WAL database holds a shared lock on it, so an exclusive lock succeeds
    only when nobody else has it open. Closing our connection then folds the WAL back into the file.
    """
    conn = sqlite3.connect(path, timeout=LOCK_TIMEOUT_S, isolation_level=None)
    try:
        conn.execute("PRAGMA locking_mode=EXCLUSIVE")
        try:
            conn.execute("BEGIN EXCLUSIVE")
        except sqlite3.OperationalError as exc:
            raise BackupError(
                f"the database {path} is in use ({exc}); stop the AIPipeline server (and anything else "
                "using it) before restoring"
            ) from exc
        conn.execute("ROLLBACK")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.DatabaseError as exc:
        if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
            raise BackupError(f"the database {path} is in use; stop the AIPipeline server first") from exc
        raise BackupError(f"the existing database {path} cannot be opened ({exc})") from exc
    finally:
        conn.close()


def move_aside(path: Path, suffix: str) -> Path:
    """Rename the database (and any WAL beside it) to `<name><suffix>`; only the -shm index is deleted."""
    aside = path.with_name(path.name + suffix)
    if aside.exists():
        raise BackupError(f"{aside} already exists; not replacing it")
    os.replace(path, aside)
    wal = path.with_name(path.name + "-wal")
    if wal.exists() and wal.stat().st_size > 0:
        # SQLite finds `<name>-wal` beside `<name>`, so the kept copy still opens with its last writes.
        os.replace(wal, aside.with_name(aside.name + "-wal"))
    _remove_side_files(path)
    fsync_dir(path.parent)
    return aside


def install(snapshot_file: Path, path: Path) -> None:
    """Atomically put the restored snapshot at `path`; a stale WAL of another database must not survive."""
    _remove_side_files(path)
    os.replace(snapshot_file, path)
    fsync_dir(path.parent)


def _remove_side_files(path: Path) -> None:
    for suffix in SIDE_FILES:
        side = path.with_name(path.name + suffix)
        if suffix == "-wal" and side.exists() and side.stat().st_size > 0:
            raise BackupError(f"{side} still holds unsaved writes; open the database once to recover it")
        with contextlib.suppress(FileNotFoundError):
            side.unlink()
