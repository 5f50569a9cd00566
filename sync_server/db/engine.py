"""Engine and session factories. SQLite gets WAL, foreign keys and write transactions that queue.

A write that must not wait long for a lock (an agent's heartbeat: it has a write-behind fallback) uses
`Database.quick_write_sessions`: its transaction waits at most `QUICK_LOCK_WAIT_MS` for SQLite's write lock
or for a PostgreSQL row lock, then fails with an error `lock_busy` recognises."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 30_000
QUICK_LOCK_WAIT_MS = 20  # a quick write gives up after this long waiting for a lock
LOCK_WAIT_OPTION = "aipipe_lock_wait_ms"
PG_LOCK_NOT_AVAILABLE = "55P03"


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
    engine = create_engine(url, **kwargs)
    _configure_lock_wait(engine)
    return engine


def _configure_lock_wait(engine: Engine) -> None:
    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # PostgreSQL: a quick write waits this long for a row lock, then fails (lock_not_available).
        wait = conn.get_execution_options().get(LOCK_WAIT_OPTION)
        if wait is not None:
            conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{int(wait)}ms'")


def lock_busy(exc: BaseException) -> bool:
    """Whether `exc` is a quick write giving up on a lock held by another transaction."""
    if not isinstance(exc, DBAPIError):
        return False
    original = exc.orig
    if getattr(original, "sqlstate", None) == PG_LOCK_NOT_AVAILABLE:
        return True
    return "database is locked" in str(original)


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
        options = conn.get_execution_options()
        if options.get("aipipe_write"):
            wait = options.get(LOCK_WAIT_OPTION)
            if wait is None:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                return
            conn.exec_driver_sql(f"PRAGMA busy_timeout={int(wait)}")
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            finally:
                conn.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        else:
            conn.exec_driver_sql("BEGIN")


@dataclass(frozen=True)
class Database:
    """The engine and the session factories a request can use."""

    engine: Engine
    read_sessions: sessionmaker[Session]
    write_sessions: sessionmaker[Session]
    quick_write_sessions: sessionmaker[Session]  # give up after QUICK_LOCK_WAIT_MS waiting for a lock

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
        quick_write_sessions=sessionmaker(
            bind=writer.execution_options(**{LOCK_WAIT_OPTION: QUICK_LOCK_WAIT_MS}), expire_on_commit=False
        ),
    )
