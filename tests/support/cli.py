"""Run the `aipipe` commands that talk to a server over HTTP, as a user would: a real subprocess, the
server's URL and an API key (or a saved login) from the environment, the config folder isolated."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

from tests.support.api import Api
from tests.support.server import AIPIPE

CLI_TIMEOUT_S = 300


def api_key(api: Api, role: str = "admin") -> str:
    """A new API key of `role`, made through the API."""
    made = api.admin.post("/api/api-keys", json={"name": f"cli-{role}-{uuid.uuid4().hex[:6]}", "role": role})
    assert made.status_code == 201, made.text
    return made.json()["key"]


def cli_env(config_home: Path, server: str | None = None, key: str | None = None) -> dict[str, str]:
    """The environment of a CLI run: no AIPIPE_* from the test process, the config folder `config_home`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIPIPE_")}
    env["XDG_CONFIG_HOME"] = str(config_home)
    if server:
        env["AIPIPE_SERVER_URL"] = server
    if key:
        env["AIPIPE_API_KEY"] = key
    return env


def aipipe(
    *args: str, env: dict[str, str], stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`aipipe ARGS` in a subprocess (stdout and stderr captured separately, as a pipe sees them)."""
    return subprocess.run(
        [*AIPIPE, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        env=env,
        cwd=cwd,
        check=False,
    )
