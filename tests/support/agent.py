"""A real render agent process (`aipipe-agent`, run as `python -m render_agent`) for end-to-end tests:
run it until a job ends, then stop it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

FINISHED = ("succeeded", "failed", "cancelled")


def run_agent_until_done(
    admin: httpx.Client,
    server_url: str,
    api_key: str,
    work_dir: Path,
    job_id: str,
    args: list[str],
    *,
    env: dict[str, str] | None = None,
    timeout_s: float = 120.0,
) -> tuple[dict[str, Any], str]:
    """Start `aipipe-agent --server URL <args>`, wait for the job to finish (or the timeout), stop the
    agent with SIGTERM; return the job as the server last showed it and the agent's output."""
    environment = {
        **os.environ,
        "AIPIPE_AGENT_API_KEY": api_key,
        "AIPIPE_AGENT_WORK_DIR": str(work_dir),
        **(env or {}),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "render_agent", "--server", server_url, *args],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + timeout_s
        state = admin.get(f"/api/farm/jobs/{job_id}").json()
        while time.monotonic() < deadline and state["status"] not in FINISHED:
            time.sleep(0.3)
            state = admin.get(f"/api/farm/jobs/{job_id}").json()
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
        return state, output
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
