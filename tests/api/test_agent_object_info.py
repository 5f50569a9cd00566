"""The agents' ComfyUI node catalogue reaches the server for real: a real `aipipe-agent` process sends its
ComfyUI's /object_info (the stand-in serves the captured one) on start and again after ComfyUI restarted,
and a submitted workflow that needs a node no agent has is refused with 422 naming the node."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.comfyui_standin.fixtures import RunningStandin, running_standin
from tests.conftest import ADMIN, start_server_with_admin
from tests.support.api import assert_problem, login
from tests.support.server import ServerProcess

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
MISSING = "AIPipeTestVideo"  # a node class the captured ComfyUI does not have
DEADLINE_S = 60.0


def workflow_needing_a_missing_node(folder: Path) -> str:
    """The CPU test workflow with its CreateVideo node swapped for a class ComfyUI does not know."""
    folder.mkdir(parents=True)
    graph = json.loads((WORKFLOWS / "cpu_test_still_video.json").read_text(encoding="utf-8"))
    graph["4"]["class_type"] = MISSING
    (folder / "needs_missing_node.json").write_text(json.dumps(graph), encoding="utf-8")
    shutil.copy(WORKFLOWS / "cpu_test_still_video.meta.json", folder / "needs_missing_node.meta.json")
    return "needs_missing_node"


def wait_for(what: str, found: Callable[[], Any], process: subprocess.Popen[str]) -> Any:
    """Poll `found` until it returns something truthy; fail with the agent's output after the deadline."""
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        if process.poll() is not None:
            pytest.fail(f"the agent exited ({process.returncode}) before {what}:\n{process.stdout.read()}")
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    pytest.fail(f"no {what} within {DEADLINE_S} s; agent output:\n{process.communicate(timeout=30)[0]}")


@pytest.fixture(params=["sqlite", "postgresql"])
def farm(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[ServerProcess, httpx.Client, str]]:
    """A real server on either database, with one extra workflow folder."""
    url = request.getfixturevalue("fresh_pg_url") if request.param == "postgresql" else None
    workflow = workflow_needing_a_missing_node(tmp_path / "workflows")
    env = {"AIPIPE_WORKFLOW_DIRS": json.dumps([str(tmp_path / "workflows")])}
    server, password = start_server_with_admin(tmp_path / "server", url, env)
    admin = login(server.url, ADMIN, password)
    try:
        yield server, admin, workflow
    finally:
        admin.close()
        server.stop()


@pytest.fixture
def standin(tmp_path: Path) -> Iterator[RunningStandin]:
    with running_standin(tmp_path / "comfy") as running:
        yield running


def test_the_agent_reports_its_catalogue_and_a_missing_node_is_refused_by_name(
    farm: tuple[ServerProcess, httpx.Client, str], standin: RunningStandin, tmp_path: Path
) -> None:
    server, admin, workflow = farm
    key = admin.post("/api/api-keys", json={"name": "catalogue-agent", "role": "agent"}).json()["key"]
    env = {
        **os.environ,
        "AIPIPE_AGENT_API_KEY": key,
        "AIPIPE_AGENT_WORK_DIR": str(tmp_path / "work"),
        "AIPIPE_AGENT_CLAIM_WAIT_S": "0.5",
        "AIPIPE_AGENT_HEARTBEAT_S": "0.5",
    }
    command = [sys.executable, "-m", "render_agent", "--server", server.url, "--comfyui", standin.url]
    command += ["--name", "catalogue", "--job-types", "i2v"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def catalogue() -> str | None:
        agents = admin.get("/api/farm/agents").json()
        return agents[0]["object_info_sha"] if agents else None

    params = {"image": "first_frame.png", "width": 64, "height": 64, "length": 4, "fps": 8}
    submit = {"type": "i2v", "workflow": workflow, "params": params}
    try:
        first = wait_for("catalogue from the agent", catalogue, process)
        assert standin.comfy.requested("GET", "/object_info") >= 1

        refused = admin.post("/api/farm/jobs", json=submit)
        problem = assert_problem(refused, 422, "graph.4")
        assert MISSING in problem["detail"], problem
        assert admin.get("/api/farm/jobs").json()["items"] == [], "a refused job was queued"

        # The node gets installed and ComfyUI restarts: the agent sends the new catalogue on its own.
        installed = standin.comfy.object_info
        standin.comfy.object_info = {**installed, MISSING: installed["CreateVideo"]}
        standin.comfy.drop_websockets()
        second = wait_for("new catalogue after the restart", lambda: (catalogue() or first) != first, process)
        assert second
        agent_id = admin.get("/api/farm/agents").json()[0]["id"]
        assert admin.post(f"/api/farm/agents/{agent_id}/drain").status_code == 200  # it must not run it
        accepted = admin.post("/api/farm/jobs", json=submit)
        assert accepted.status_code == 201, accepted.text
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
