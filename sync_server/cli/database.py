"""The commands that run beside the database (`server`, `db upgrade`, `admin`, `backup`) open only an
existing AIPipeline database: run in the wrong folder they would otherwise make a new, empty one and
hide the real data. `--init` asks for a new one."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from .common import die

if TYPE_CHECKING:
    from ..settings import Settings

VERSION_TABLE = "alembic_version"


def _sqlite_has_schema(path: str) -> bool:
    # Read-only URI: looking must not create the file.
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        found = conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (VERSION_TABLE,))
        return found.fetchone() is not None


def _where(settings: Settings) -> str:
    url = make_url(settings.resolved_database_url)
    if url.get_backend_name() == "sqlite":
        return f"{url.database} (data folder {settings.data_dir.resolve()})"
    return url.render_as_string(hide_password=True)


def database_problem(settings: Settings) -> str | None:
    """Why the settings' database is not an AIPipeline database yet (missing or empty), or None."""
    url = make_url(settings.resolved_database_url)
    if url.get_backend_name() == "sqlite":
        path = url.database or ""
        if path in ("", ":memory:"):
            return None
        try:
            return None if _sqlite_has_schema(path) else f"The database {_where(settings)} is empty"
        except sqlite3.OperationalError:
            return f"No database at {_where(settings)}"
        except sqlite3.DatabaseError as exc:  # damaged, encrypted or not SQLite at all: never overwritten
            return (
                f"Cannot open the database {_where(settings)}: {exc}. The file is damaged or not an "
                "AIPipeline database; restore it from a backup (`aipipe backup restore`, docs/backups.md) — "
                "it was left as it is"
            )
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return (
                None
                if inspect(conn).has_table(VERSION_TABLE)
                else f"The database {_where(settings)} is empty"
            )
    except SQLAlchemyError as exc:
        cause = getattr(exc, "orig", None) or exc
        return f"Cannot open the database {_where(settings)}: {cause}"
    finally:
        engine.dispose()


def require_database(settings: Settings, init: bool) -> None:
    """Exit (status 2) naming the path looked at unless the database exists or `init` asks for a new one."""
    problem = database_problem(settings)
    if problem is None:
        return
    if init and not problem.startswith("Cannot open"):
        return
    hint = (
        "" if problem.startswith("Cannot open") else
        " Run this where the server's data is, pass --data-dir or --database-url (or AIPIPE_DATA_DIR / "
        "AIPIPE_DATABASE_URL), or add --init to create a new, empty database there."
    )  # fmt: skip
    die(f"{problem}.{hint}", 2)
