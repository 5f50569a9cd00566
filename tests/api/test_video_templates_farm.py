"""Templates that need more than ComfyUI 0.3.64 (issue 17), against the catalogue a real agent reports:
on a farm whose agent runs the captured ComfyUI 0.3.64, LTX-2 (ComfyUI >= 0.8.0), SVI 2.0 Pro (the KJNodes
pack) and RIFE (ComfyUI-Frame-Interpolation) are refused at submit with 422 naming the missing node and
what the template needs; ESRGAN (core nodes) is accepted. Once the agent's ComfyUI has the nodes, the same
jobs are accepted. Over real HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.comfyui_standin.catalogue import (
    FRAME_INTERPOLATION_CLASSES,
    KJNODES_CLASSES,
    LTX2_CLASSES,
    with_nodes,
)
from tests.comfyui_standin.fixtures import RunningStandin, running_standin
from tests.conftest import ADMIN, start_server_with_admin
from tests.support.api import assert_problem, login
from tests.support.server import ServerProcess

DEADLINE_S = 60.0
JOBS: dict[str, dict[str, Any]] = {
    "ltx2": {"type": "i2v", "workflow": "ltx2_i2v", "params": {"image": "first.png"}},
    "svi": {"type": "i2v", "workflow": "wan22_svi2pro_long", "params": {"image": "first.png"}},
    "rife": {"type": "interpolate", "workflow": "rife_interpolate_2x", "params": {"video": "clip.mp4"}},
    "esrgan": {"type": "upscale", "workflow": "esrgan_upscale_video", "params": {"video": "clip.mp4"}},
}


@pytest.fixture(params=["sqlite", "postgresql"])
def farm(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[ServerProcess, httpx.Client]]:
    url = request.getfixturevalue("fresh_pg_url") if request.param == "postgresql" else None
    server, password = start_server_with_admin(tmp_path / "server", url)
    admin = login(server.url, ADMIN, password)
    try:
        yield server, admin
    finally:
        admin.close()
        server.stop()


def wait_for(what: str, found: Callable[[], Any], process: subprocess.Popen[str]) -> Any:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        if process.poll() is not None:
            pytest.fail(f"the agent exited ({process.returncode}) before {what}:\n{process.stdout.read()}")  # type: ignore[union-attr]
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    pytest.fail(f"no {what} within {DEADLINE_S} s; agent output:\n{process.communicate(timeout=30)[0]}")


def test_a_farm_on_comfyui_0_3_64_refuses_what_it_cannot_run_naming_what_is_missing(
    farm: tuple[ServerProcess, httpx.Client], tmp_path: Path
) -> None:
    server, admin = farm
    key = admin.post("/api/api-keys", json={"name": "old-comfy", "role": "agent"}).json()["key"]
    env = {
        **os.environ,
        "AIPIPE_AGENT_API_KEY": key,
        "AIPIPE_AGENT_WORK_DIR": str(tmp_path / "work"),
        "AIPIPE_AGENT_CLAIM_WAIT_S": "0.5",
        "AIPIPE_AGENT_HEARTBEAT_S": "0.5",
    }
    with running_standin(tmp_path / "comfy") as standin:  # the captured ComfyUI 0.3.64, no custom packs
        command = [sys.executable, "-m", "render_agent", "--server", server.url, "--comfyui", standin.url]
        command += ["--name", "old-comfy", "--job-types", "depth"]  # it must not run what is accepted here
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        try:
            check_refusals(admin, standin, process)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.communicate(timeout=30)
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait(timeout=10)


def check_refusals(admin: httpx.Client, standin: RunningStandin, process: subprocess.Popen[str]) -> None:
    def catalogue() -> str | None:
        agents = admin.get("/api/farm/agents").json()
        return agents[0]["object_info_sha"] if agents else None

    first = wait_for("the agent's catalogue", catalogue, process)

    ltx2 = assert_problem(admin.post("/api/farm/jobs", json=JOBS["ltx2"]), 422, "graph.2")
    assert "No agent's ComfyUI accepts workflow 'ltx2_i2v' (it needs ComfyUI >= 0.8.0)" in ltx2["detail"]
    assert "LTXAVTextEncoderLoader" in ltx2["detail"]
    named = " ".join(e["message"] for e in ltx2["errors"])
    assert all(name in named for name in LTX2_CLASSES), named  # every missing class is named

    svi = assert_problem(admin.post("/api/farm/jobs", json=JOBS["svi"]), 422, "graph.14")
    assert "(it needs custom node pack ComfyUI-KJNodes (WanImageToVideoSVIPro))" in svi["detail"]
    assert "node 14 (WanImageToVideoSVIPro): custom node class is not installed" in svi["detail"]

    rife = assert_problem(admin.post("/api/farm/jobs", json=JOBS["rife"]), 422, "graph.3")
    assert "custom node pack ComfyUI-Frame-Interpolation (RIFE VFI)" in rife["detail"]

    esrgan = admin.post("/api/farm/jobs", json=JOBS["esrgan"])  # core nodes only
    assert esrgan.status_code == 201, esrgan.text
    assert [j["workflow"] for j in admin.get("/api/farm/jobs").json()["items"]] == ["esrgan_upscale_video"]

    # The packs are installed and ComfyUI is updated: the agent sends its new catalogue on its own.
    newer = (*LTX2_CLASSES, *KJNODES_CLASSES, *FRAME_INTERPOLATION_CLASSES)
    standin.comfy.object_info = with_nodes(standin.comfy.object_info, newer)
    standin.comfy.comfyui_version = "0.8.1"
    standin.comfy.drop_websockets()
    wait_for("the new catalogue", lambda: (catalogue() or first) != first, process)
    for name in ("ltx2", "svi", "rife"):
        accepted = admin.post("/api/farm/jobs", json=JOBS[name])
        assert accepted.status_code == 201, (name, accepted.text)
