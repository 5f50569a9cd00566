"""A real farm for agent tests: `aipipe server` processes, real `aipipe-agent` processes and shots to render.

Only ComfyUI is a stand-in (tests/comfyui_standin). Everything is waited on with deadlines, never slept.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

from tests.conftest import ADMIN, start_server_with_admin
from tests.support.api import login
from tests.support.media import png_bytes
from tests.support.server import ServerProcess

T = TypeVar("T")
FINISHED = ("succeeded", "failed", "cancelled")


@dataclass
class Farm:
    """A running server, its admin client and an API key of role agent."""

    server: ServerProcess
    admin: httpx.Client
    agent_key: str
    password: str

    @property
    def url(self) -> str:
        return self.server.url

    def render_job(self, code: str | None = None, *, frames: int = 24) -> dict[str, Any]:
        """A shot with an approved previz frame, and its render queued (cpu_test_still_video, 512x288)."""
        admin = self.admin
        code = code or f"R{uuid.uuid4().hex[:6].upper()}"
        project = admin.post("/api/projects", json={"code": code, "name": "렌더 팜", "fps": "24"})
        assert project.status_code == 201, project.text
        project = project.json()
        scene = admin.post(f"/api/projects/{project['id']}/scenes", json={}).json()
        shot = admin.post(
            f"/api/projects/{project['id']}/shots", json={"scene_id": scene["id"], "duration_frames": frames}
        ).json()
        previz = admin.post(
            f"/api/shots/{shot['id']}/versions",
            data={"stage": "previz"},
            files={"files": ("frame.png", png_bytes(512, 288), "image/png")},
        )
        assert previz.status_code == 201, previz.text
        admin.post(f"/api/versions/{previz.json()['id']}/reviews", json={"verdict": "approve"})
        job = admin.post(f"/api/shots/{shot['id']}/render", json={"workflow": "cpu_test_still_video"})
        assert job.status_code == 201, job.text
        return job.json()

    def job(self, job_id: str) -> dict[str, Any]:
        return self.admin.get(f"/api/farm/jobs/{job_id}").json()


@contextlib.contextmanager
def running_farm(
    data_dir: Path, env: dict[str, str] | None = None, database_url: str | None = None
) -> Iterator[Farm]:
    server, password = start_server_with_admin(data_dir, database_url, env=env)
    admin = login(server.url, ADMIN, password)
    try:
        key = admin.post("/api/api-keys", json={"name": f"agent-{uuid.uuid4().hex[:6]}", "role": "agent"})
        assert key.status_code == 201, key.text
        yield Farm(server, admin, key.json()["key"], password)
    finally:
        admin.close()
        server.stop()


@dataclass
class AgentProcess:
    """A real `aipipe-agent` process; its output goes to `log_path`."""

    process: subprocess.Popen[str]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""


@contextlib.contextmanager
def agent_process(
    servers: list[str],
    api_key: str,
    work_dir: Path,
    *,
    name: str,
    comfyui: str | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[AgentProcess]:
    """Start `python -m render_agent` (what `aipipe-agent` runs); SIGTERM it (release) at the end."""
    work_dir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "render_agent", "--name", name, "--on-sigterm", "release"]
    for url in servers:
        command += ["--server", url]
    if comfyui:
        command += ["--comfyui", comfyui]
    environment = {
        **os.environ,
        "AIPIPE_AGENT_API_KEY": api_key,
        "AIPIPE_AGENT_WORK_DIR": str(work_dir),
        "AIPIPE_AGENT_BACKOFF_MIN_S": "0.1",
        "AIPIPE_AGENT_BACKOFF_MAX_S": "1",
        "AIPIPE_AGENT_SHUTDOWN_FLUSH_S": "5",
        **(env or {}),
    }
    log_path = work_dir / f"agent-{name}.log"
    with log_path.open("a", encoding="utf-8") as log:
        # cwd: the work folder, so that no .env of the checkout is read
        process = subprocess.Popen(
            command, env=environment, stdout=log, stderr=subprocess.STDOUT, text=True, cwd=work_dir
        )
    agent = AgentProcess(process, log_path)
    try:
        yield agent
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def wait_for(check: Callable[[], T | None], what: str, timeout: float = 30.0, every: float = 0.05) -> T:
    """Poll `check` until it returns something truthy; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(every)
