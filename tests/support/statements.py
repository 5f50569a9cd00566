"""Counting the SQL statements a piece of work sends, on a real migrated database (SQLite, or PostgreSQL
when it is there): for tests that a bulk write's statements grow with batches, not with rows."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event

from sync_server.db.engine import Database, make_database
from sync_server.db.migrate import upgrade


def migrated_database(request: pytest.FixtureRequest, sqlite_file: Path) -> Iterator[Database]:
    """(For a fixture parametrized "sqlite" / "postgresql".) A migrated database: a SQLite file at
    `sqlite_file`, or a fresh PostgreSQL database (`fresh_pg_url`: skipped when PostgreSQL is not there)."""
    url = f"sqlite:///{sqlite_file}" if request.param == "sqlite" else request.getfixturevalue("fresh_pg_url")
    upgrade(url)
    made = make_database(url)
    try:
        yield made
    finally:
        made.dispose()


@dataclass
class Statements:
    """The statements sent, each with whether it ran in a write transaction (`aipipe_write`)."""

    sent: list[tuple[bool, str]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.sent)

    @property
    def written(self) -> int:
        return sum(1 for write, _ in self.sent if write)


@contextmanager
def counted_statements(engine: Engine) -> Iterator[Statements]:
    """Every statement `engine` sends inside the block (another engine's, e.g. a child's, are not seen)."""
    statements = Statements()

    def count(conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        statements.sent.append((bool(conn.get_execution_options().get("aipipe_write")), sql))

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)
