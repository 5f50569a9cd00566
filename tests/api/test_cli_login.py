"""`aipipe login` / `logout` over real HTTP: one login, a saved refresh token (0600, per server, in the
config folder), later commands with neither URL nor key, renewal when the access token runs out."""

from __future__ import annotations

import json
import secrets
import stat
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from tests.support.api import Api
from tests.support.cli import aipipe, cli_env

SESSION = Path("aipipeline") / "cli_session.json"


def _user(api: Api, role: str = "editor") -> tuple[str, str]:
    name, password = f"cli_{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(12)
    made = api.admin.post("/api/users", json={"username": name, "password": password, "role": role})
    assert made.status_code == 201, made.text
    return name, password


def _saved(config: Path) -> dict[str, Any]:
    return json.loads((config / SESSION).read_text(encoding="utf-8"))


def test_login_once_then_commands_need_no_url_or_key_and_renew_the_session(api: Api, tmp_path: Path) -> None:
    name, password = _user(api)
    config = tmp_path / "config"
    env = cli_env(config)  # no AIPIPE_SERVER_URL, no AIPIPE_API_KEY

    def whoami() -> subprocess.CompletedProcess[str]:
        return aipipe("whoami", env=env)

    before = whoami()
    assert before.returncode == 2 and "aipipe login" in before.stderr, before.stderr

    done = aipipe(
        "login", api.base_url + "/", "--user", name, "--password-stdin", stdin=password + "\n", env=env
    )
    assert done.returncode == 0, done.stderr
    assert f"as {name} (editor)" in done.stdout
    assert stat.S_IMODE((config / SESSION).stat().st_mode) == 0o600
    saved = _saved(config)
    assert password not in (config / SESSION).read_text(encoding="utf-8")
    assert saved["default"] == api.base_url and set(saved["servers"]) == {api.base_url}

    shown = whoami()
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == f"{name} (editor) at {api.base_url}."

    # The access token ran out: the next commands (two at once) renew it, spending the refresh token once.
    old_refresh = _expire(config, api.base_url)
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda _: whoami(), range(2)))
    assert [r.returncode for r in runs] == [0, 0], [r.stderr for r in runs]
    assert _saved(config)["servers"][api.base_url]["refresh_token"] != old_refresh
    _expire(config, api.base_url)  # a reused token would have signed this user out everywhere
    assert whoami().returncode == 0

    last = _saved(config)["servers"][api.base_url]["refresh_token"]
    out = aipipe("logout", env=env)
    assert out.returncode == 0 and f"Logged out of {api.base_url}" in out.stdout, out.stderr
    assert _saved(config)["servers"] == {}
    revoked = httpx.post(f"{api.base_url}/api/auth/refresh", json={"refresh_token": last})
    assert revoked.status_code == 401  # signed out at the server too
    after = whoami()
    assert after.returncode == 2 and "aipipe login" in after.stderr


def _expire(config: Path, server: str) -> str:
    """Make the saved access token look expired; return the refresh token saved now."""
    saved = _saved(config)
    saved["servers"][server]["access_expires_at"] = 0
    (config / SESSION).write_text(json.dumps(saved), encoding="utf-8")
    return saved["servers"][server]["refresh_token"]


def test_a_wrong_password_saves_nothing_and_says_why(api: Api, tmp_path: Path) -> None:
    name, _ = _user(api)
    config = tmp_path / "config"
    done = aipipe(
        "login",
        api.base_url,
        "--user",
        name,
        "--password-stdin",
        stdin="wrong-password\n",
        env=cli_env(config),
    )
    assert done.returncode == 1 and "401" in done.stderr, done.stderr
    assert not (config / SESSION).exists()


def test_a_login_with_no_one_to_answer_says_how_to_script_it(api: Api, tmp_path: Path) -> None:
    config = tmp_path / "config"
    done = aipipe("login", api.base_url, stdin="", env=cli_env(config))  # a script: stdin closed
    assert done.returncode == 2, done.stderr  # not set up: a usage problem, not a refusal
    assert "--user" in done.stderr and "--password-stdin" in done.stderr, done.stderr
    assert not (config / SESSION).exists()


def test_an_api_key_still_works_without_a_login(api: Api, tmp_path: Path) -> None:
    name = f"k-{uuid.uuid4().hex[:6]}"
    made = api.admin.post("/api/api-keys", json={"name": name, "role": "editor"})
    env = cli_env(tmp_path / "config", api.base_url, made.json()["key"])
    done = aipipe("whoami", env=env)
    assert done.returncode == 0, done.stderr
    assert f"the API key {name} (editor) at {api.base_url}" in done.stdout  # the key by name, not a guess
    assert not (tmp_path / "config").exists()  # nothing saved for a key
