"""An agent host installs only `aipipeline[agent]`: the tier run by scripts/test in `.venv-agent` proves the
agent needs nothing of the server's stack, and drives the ComfyUI stand-in for a real server process that
runs from the full environment (AIPIPE_TEST_SERVER_PYTHON)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

AGENT_ONLY = os.environ.get("AIPIPE_AGENT_ONLY") == "1"
SERVER_STACK = ("fastapi", "sqlalchemy", "alembic", "psycopg", "openpyxl", "opentimelineio", "argon2", "jwt")


@pytest.mark.skipif(not AGENT_ONLY, reason="runs in the agent-only environment (.venv-agent) of scripts/test")
def test_the_agent_environment_has_none_of_the_server_stack() -> None:
    present = [name for name in SERVER_STACK if importlib.util.find_spec(name) is not None]
    assert present == [], f"the agent extra pulled in server packages: {present}"


def test_aipipe_agent_starts_and_explains_a_missing_setting(tmp_path) -> None:
    # The agent's own command: no server settings, no server code; a missing setting is named.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIPIPE_AGENT_")}
    done = subprocess.run(
        [sys.executable, "-m", "render_agent", "--comfyui", "http://127.0.0.1:9"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Configuration error" in done.stderr and "server_url" in done.stderr and "api_key" in done.stderr
    assert "Traceback" not in done.stderr
