"""Fixtures: real servers on loopback against SQLite and PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.api import Api, login
from tests.support.server import ServerProcess, start_with_admin

try:  # tests/blender run inside Blender's Python (the bpy wheel); scripts/test runs them once per release
    import bpy  # noqa: F401
except ImportError:
    collect_ignore = ["blender"]

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
ADMIN = "admin_test"
# The session servers (`api`) take every test's logins from one address, 127.0.0.1, including the failed ones
# some tests make on purpose (15 in one pass of test_auth, test_audit and test_cli_login, against the default
# limit of 20 per address in 300 s): past the limit any later login, right password or not, would get a 429.
# The per-address limit is tested on a server of its own (test_hostile_storage); the per-user limit keeps its
# default here (test_auth relies on it).
SHARED_SERVER_ENV = {"AIPIPE_LOGIN_MAX_FAILURES_PER_ADDRESS": "100000"}


def pytest_configure(config: pytest.Config) -> None:
    # pytest-xdist workers (./scripts/test runs two) have COLUMNS=80 and LINES=24 in their environment; the
    # CLI processes the tests start would then draw 80-column tables instead of a pipe's: a test must see
    # the same output however the suite is run.
    for name in ("COLUMNS", "LINES"):
        os.environ.pop(name, None)


def _pg_base_url() -> str:
    return os.environ.get("AIPIPE_TEST_PG_URL", DEFAULT_PG_URL)


def make_url(url: str) -> Any:
    # Imported when used: the agent-host tier (tests/agent_host) runs with only the agent's extra installed.
    from sqlalchemy.engine import make_url as parse

    return parse(url)


def _conninfo(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    """The PostgreSQL server for tests, or a skip that says why (a failure when CI requires it)."""
    import psycopg

    url = _pg_base_url()
    try:
        with psycopg.connect(_conninfo(url), connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        reason = f"PostgreSQL not reachable at {make_url(url).render_as_string()}: {exc}".strip()
        if os.environ.get("AIPIPE_REQUIRE_PG"):
            pytest.fail(reason)
        pytest.skip(reason + " (set AIPIPE_TEST_PG_URL to run these tests)")
    return url


@pytest.fixture
def fresh_pg_url(pg_server_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database for one test; dropped afterwards."""
    yield from _temporary_database(pg_server_url)


def _temporary_database(server_url: str) -> Iterator[str]:
    import psycopg

    name = f"aipipe_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_conninfo(server_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(_conninfo(server_url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start_server_with_admin(
    data_dir: Path, database_url: str | None, env: dict[str, str] | None = None
) -> tuple[ServerProcess, str]:
    return start_with_admin(data_dir, database_url, ADMIN, env)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """A real server (one per backend for the whole run) and an admin client."""
    backend = request.param
    data_dir = tmp_path_factory.mktemp(f"server-{backend}")
    databases: Iterator[str] | None = None
    url: str | None = None
    if backend == "postgresql":
        databases = _temporary_database(request.getfixturevalue("pg_server_url"))
        url = next(databases)
    server, password = start_server_with_admin(data_dir, url, SHARED_SERVER_ENV)
    admin = login(server.url, ADMIN, password)
    try:
        yield Api(server.url, server.ws_url, admin, backend, data_dir=data_dir, database_url=url)
    finally:
        admin.close()
        server.stop()
        if databases is not None:
            next(databases, None)
