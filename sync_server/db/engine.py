"""Engine and session factories. SQLite gets WAL, foreign keys and write transactions that queue."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 30_000


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def make_engine(url: str, pool_size: int = 10) -> Engine:
    """Create an engine; for SQLite, turn on WAL and foreign keys and take control of BEGIN."""
    parsed = make_url(url)
    kwargs: dict[str, Any] = {"future": True}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            keep_private(Path(parsed.database))
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        engine = create_engine(url, **kwargs)
        _configure_sqlite(engine)
        return engine
    kwargs.update(pool_size=pool_size, max_overflow=pool_size * 2, pool_pre_ping=True)
    return create_engine(url, **kwargs)


def keep_private(database: Path) -> None:
    """The database file holds password and key hashes: only its owner may read it (0600). SQLite gives
    its -wal and -shm files the database file's mode, so they follow once it is made before first use."""
    # Only a missing file is opened here: closing any descriptor of the database drops every POSIX lock
    # this process's SQLite connections hold on it, and another process closing its last connection would
    # then delete the live WAL under them ("database disk image is malformed").
    with contextlib.suppress(FileExistsError):
        os.close(os.open(database, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    for path in (database, *(database.with_name(database.name + s) for s in ("-wal", "-shm", "-journal"))):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(path, 0o600)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" hook issue BEGIN itself (pysqlite's own handling is not serializable).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers take the write lock up front, so two writers queue on busy_timeout instead of one
        # failing with "database is locked" when it upgrades a read transaction.
        if conn.get_execution_options().get("aipipe_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


@dataclass(frozen=True)
class Database:
    """The engine and the two session factories a request can use."""

    engine: Engine
    read_sessions: sessionmaker[Session]
    write_sessions: sessionmaker[Session]

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def dispose(self) -> None:
        self.engine.dispose()


def make_database(url: str, pool_size: int = 10) -> Database:
    engine = make_engine(url, pool_size=pool_size)
    writer = engine.execution_options(aipipe_write=True)
    return Database(
        engine=engine,
        read_sessions=sessionmaker(bind=engine, expire_on_commit=False),
        write_sessions=sessionmaker(bind=writer, expire_on_commit=False),
    )
