"""PostgreSQL: `pg_dump --format=custom` from an exported snapshot, `pg_restore --clean --if-exists` back."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from .bundle import BackupError

INSTALL_HINT = (
    "Install the PostgreSQL client tools of the server's major version or newer (Debian/Ubuntu: "
    "`apt install postgresql-client-<major>`; RHEL: `dnf install postgresql`; macOS: `brew install libpq`; "
    "Windows: the PostgreSQL installer's command line tools), or set AIPIPE_PG_DUMP to the pg_dump program"
)
T = TypeVar("T")


def find_tool(name: str, configured_pg_dump: str | None) -> str:
    """`pg_dump` or `pg_restore`: AIPIPE_PG_DUMP (pg_restore beside it) first, then PATH."""
    if configured_pg_dump:
        configured = Path(configured_pg_dump).expanduser()
        if name == "pg_dump":
            found = shutil.which(str(configured))
            if found is None:
                raise BackupError(f"AIPIPE_PG_DUMP={configured_pg_dump} is not an executable program")
            return found
        beside = shutil.which(name + configured.suffix, path=str(configured.parent))
        if beside is not None:
            return beside
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} was not found on PATH; it is needed for PostgreSQL backups. {INSTALL_HINT}."
        )
    return found


def libpq_target(url: str) -> tuple[str, dict[str, str]]:
    """A libpq connection URI for the tools (without the password) and the environment that carries it."""
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password is not None:
        env["PGPASSWORD"] = str(parsed.password)  # not on the command line, where `ps` would show it
    conninfo = parsed.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return conninfo, env


def with_connection(url: str, work: Callable[[Connection], T], isolation: str | None = None) -> T:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            if isolation:
                conn.execution_options(isolation_level=isolation)
            return work(conn)
    except BackupError:
        raise
    except Exception as exc:
        raise BackupError(f"PostgreSQL at {make_url(url).render_as_string()}: {exc}") from exc
    finally:
        engine.dispose()


def dump(url: str, dest: Path, pg_dump: str, read_state: Callable[[Connection], T]) -> T:
    """Dump the database into `dest` and return `read_state` evaluated on the very same snapshot.

    One REPEATABLE READ transaction exports its snapshot; pg_dump imports it with --snapshot, so the
    row counts and Alembic revision in the manifest describe exactly the rows in the dump.
    """
    conninfo, env = libpq_target(url)

    def inside(conn: Connection) -> T:
        with conn.begin():
            conn.execute(text("SET TRANSACTION READ ONLY"))
            snapshot_id = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            state = read_state(conn)
            command = [
                pg_dump,
                "--format=custom",
                f"--snapshot={snapshot_id}",
                "--no-password",
                f"--file={dest}",
                f"--dbname={conninfo}",
            ]
            _run(command, env, "pg_dump")
        return state

    result = with_connection(url, inside, isolation="REPEATABLE READ")
    if not dest.is_file() or dest.stat().st_size == 0:
        raise BackupError("pg_dump finished but wrote nothing; no backup was made")
    return result


def dump_plain(url: str, dest: Path, pg_dump: str) -> None:
    """Keep a whole database aside (before a forced restore) as a custom-format dump."""
    conninfo, env = libpq_target(url)
    _run(
        [pg_dump, "--format=custom", "--no-password", f"--file={dest}", f"--dbname={conninfo}"],
        env,
        "pg_dump",
    )
    dest.chmod(0o600)  # it holds password and API-key hashes


def restore(url: str, dump_file: Path, pg_restore: str) -> None:
    """Restore `dump_file` into the database at `url` in one transaction: all of it or none of it."""
    conninfo, env = libpq_target(url)
    command = [
        pg_restore,
        "--clean",
        "--if-exists",
        "--no-owner",
        "--no-privileges",
        "--single-transaction",
        "--exit-on-error",
        "--no-password",
        f"--dbname={conninfo}",
        str(dump_file),
    ]
    _run(command, env, "pg_restore")


def other_sessions(conn: Connection) -> list[str]:
    """Other client sessions on this database (a running server keeps its pool connected)."""
    rows = conn.execute(
        text(
            "SELECT pid, usename, application_name, client_addr FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND backend_type = 'client backend'"
        )
    ).all()
    return [
        f"pid {r.pid} ({r.usename}@{r.client_addr or 'local'} {r.application_name or ''})".strip()
        for r in rows
    ]


def _run(command: list[str], env: dict[str, str], what: str) -> None:
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise BackupError(f"could not run {command[0]}: {exc}. {INSTALL_HINT}.") from exc
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip() or f"exit status {done.returncode}"
        raise BackupError(f"{what} failed: {detail}")
