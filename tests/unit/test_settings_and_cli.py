"""Server settings and the `aipipe` admin commands, without a running server."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import threading
from pathlib import Path

import pytest
from pydantic import ValidationError

from sync_server.settings import JWT_SECRET_FILE, Settings
from tests.support.server import AIPIPE, run_cli

BUILTIN_PRESETS = 42


@pytest.fixture(autouse=True)
def _no_ambient_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what a test passes counts: no AIPIPE_* from the shell that runs the tests."""
    for name in ("AIPIPE_JWT_SECRET", "AIPIPE_CORS_ORIGINS", "AIPIPE_DATA_DIR", "AIPIPE_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)


def _settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


# -- settings ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "origins", [["*"], ["https://app.studio.example", "*"], ["https://*.studio.example"]]
)
def test_a_wildcard_cors_origin_is_refused_naming_cors_origins(origins: list[str]) -> None:
    with pytest.raises(ValidationError) as refused:
        _settings(cors_origins=origins)
    assert [error["loc"] for error in refused.value.errors()] == [("cors_origins",)]
    assert "cors_origins" in str(refused.value)


def test_a_wildcard_cors_origin_from_the_environment_is_refused_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIPIPE_CORS_ORIGINS", '["*"]')
    with pytest.raises(ValidationError, match="cors_origins"):
        _settings()


def test_explicit_cors_origins_are_kept() -> None:
    origins = ["https://app.studio.example", "http://localhost:5173"]
    assert _settings(cors_origins=origins).cors_origins == origins


def test_a_proxy_staleness_under_two_heartbeats_is_refused_naming_both_settings() -> None:
    with pytest.raises(ValidationError) as refused:
        _settings(editorial_proxy_heartbeat_s=5, editorial_proxy_stale_s=9)
    assert "editorial_proxy_stale_s" in str(refused.value) and "editorial_proxy_heartbeat_s" in str(
        refused.value
    )
    kept = _settings(editorial_proxy_heartbeat_s=5, editorial_proxy_stale_s=10)
    assert (kept.editorial_proxy_heartbeat_s, kept.editorial_proxy_stale_s) == (5, 10)


def test_a_generated_jwt_secret_is_kept_in_the_data_dir_readable_only_by_the_owner(tmp_path: Path) -> None:
    secret = _settings(data_dir=tmp_path).resolved_jwt_secret()
    path = tmp_path / JWT_SECRET_FILE
    assert path.read_text(encoding="utf-8").strip() == secret
    assert len(secret) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert _settings(data_dir=tmp_path).resolved_jwt_secret() == secret  # the next start reuses it
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == [
        JWT_SECRET_FILE
    ]  # no temp files left


def test_a_configured_jwt_secret_is_used_and_nothing_is_written(tmp_path: Path) -> None:
    configured = "c" * 48
    assert _settings(data_dir=tmp_path, jwt_secret=configured).resolved_jwt_secret() == configured
    assert not (tmp_path / JWT_SECRET_FILE).exists()


def _simultaneous_first_starts(data_dir: Path, count: int) -> tuple[list[str], list[Exception]]:
    """`count` threads, released together, each resolving the JWT secret of a fresh `data_dir`."""
    barrier = threading.Barrier(count)
    results: list[str] = []
    errors: list[Exception] = []
    lock = threading.Lock()

    def start() -> None:
        settings = _settings(data_dir=data_dir)
        barrier.wait()
        try:
            secret = settings.resolved_jwt_secret()
        except Exception as exc:  # reported by the test
            with lock:
                errors.append(exc)
            return
        with lock:
            results.append(secret)

    threads = [threading.Thread(target=start) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results, errors


def test_concurrent_first_starts_agree_on_one_jwt_secret(tmp_path: Path) -> None:
    for attempt in range(5):
        data_dir = tmp_path / f"start-{attempt}"
        results, errors = _simultaneous_first_starts(data_dir, 12)
        assert not errors, errors
        assert len(results) == 12
        assert len(set(results)) == 1, f"first starts disagreed on the secret: {len(set(results))} secrets"
        assert (data_dir / JWT_SECRET_FILE).read_text(encoding="utf-8").strip() == results[0]
        assert sorted(p.name for p in data_dir.iterdir() if p.is_file()) == [JWT_SECRET_FILE]


# -- the aipipe command ---------------------------------------------------------------------------------


def _query(data_dir: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(data_dir / "aipipe.db") as conn:
        return conn.execute(sql).fetchall()


@pytest.fixture(scope="module")
def upgraded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh data dir after `aipipe db upgrade` (SQLite)."""
    data_dir = tmp_path_factory.mktemp("cli") / "data"
    result = run_cli("db", "upgrade", "--init", data_dir=data_dir, database_url=None)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "revision" in result.stdout
    return data_dir


def test_db_upgrade_on_a_fresh_data_dir_creates_the_database_with_the_built_in_presets(
    upgraded: Path,
) -> None:
    assert (upgraded / "aipipe.db").is_file()
    rows = _query(upgraded, "SELECT name, project_id FROM cinematic_presets WHERE builtin")
    assert len(rows) == BUILTIN_PRESETS
    assert len({name for name, _ in rows}) == BUILTIN_PRESETS
    assert all(project_id is None for _, project_id in rows)
    assert _query(upgraded, "SELECT count(*) FROM users") == [(0,)]


@pytest.mark.parametrize(
    ("args", "password", "named"),
    [
        (["bob", "--role", "wizard"], "l0ng-enough-pw", "role"),
        (["bob", "--role", "artist"], "short", "password"),
        (["bob smith!", "--role", "artist"], "l0ng-enough-pw", "username"),
    ],
    ids=["bad-role", "short-password", "bad-username"],
)
def test_create_user_with_bad_input_exits_non_zero_naming_the_problem_and_creates_nothing(
    upgraded: Path, args: list[str], password: str, named: str
) -> None:
    result = run_cli(
        "admin", "create-user", *args, "--password-stdin",
        data_dir=upgraded, database_url=None, stdin=password + "\n",
    )  # fmt: skip
    assert result.returncode != 0
    assert named in result.stderr.lower(), result.stderr
    assert password not in result.stdout + result.stderr
    assert _query(upgraded, "SELECT count(*) FROM users") == [(0,)]


def test_create_user_refuses_a_second_user_with_the_same_name(tmp_path: Path) -> None:
    def create(name: str) -> int:
        return run_cli(
            "admin", "create-user", name, "--role", "director", "--password-stdin", "--init",
            data_dir=tmp_path, database_url=None, stdin="l0ng-enough-pw\n",
        ).returncode  # fmt: skip

    assert create("mina") == 0
    again = run_cli(
        "admin", "create-user", "MINA", "--role", "artist", "--password-stdin",
        data_dir=tmp_path, database_url=None, stdin="an0ther-passw0rd\n",
    )  # fmt: skip
    assert again.returncode != 0
    assert "username" in again.stderr.lower(), again.stderr
    assert _query(tmp_path, "SELECT username, role FROM users") == [("mina", "director")]


def test_aipipe_agent_hands_its_arguments_to_the_agents_own_command(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIPIPE_")}
    args = ["agent", "--server", "http://127.0.0.1:1", "--api-key", "k", "--on-sigterm", "abort"]
    done = subprocess.run(
        [*AIPIPE, *args, "--work-dir", str(tmp_path)],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 2 and "on_sigterm" in done.stdout + done.stderr
    shown = subprocess.run([*AIPIPE, "agent", "--help"], capture_output=True, text=True, env=env, timeout=120)
    assert shown.returncode == 0 and "--comfyui" in shown.stdout  # the agent's own options
