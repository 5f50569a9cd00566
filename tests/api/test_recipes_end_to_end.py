"""A render recipe for real: render-ready queues i2v -> RIFE 2x -> ESRGAN 2x for a confirmed shot, two real
`aipipe agent` processes (one for the render, one for the post steps, each with its own ComfyUI stand-in)
run the chain, and every step comes back as a version of its own stage, checked with PyAV."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import httpx
import pytest

from tests.comfyui_standin.fixtures import running_standin
from tests.conftest import ADMIN, start_server_with_admin
from tests.support.agent import run_agent_until_done
from tests.support.api import login
from tests.support.media import png_bytes

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
STEPS = [
    {"label": "i2v", "workflow": "cpu_test_still_video", "params": {"width": 128, "height": 72}},
    {"label": "RIFE 2x", "workflow": "cpu_test_rife_interpolate_2x", "params": {"factor": 2}},
    {"label": "ESRGAN 2x", "workflow": "cpu_test_esrgan_upscale_video"},
]


def cpu_copies(folder: Path) -> Path:
    """The shipped RIFE and ESRGAN templates as they are, but asking no VRAM: these agents have no GPU
    (an agent never invents one), and the stand-in runs the nodes on the CPU."""
    folder.mkdir(parents=True)
    for name in ("rife_interpolate_2x", "esrgan_upscale_video"):
        (folder / f"cpu_test_{name}.json").write_text(
            (WORKFLOWS / f"{name}.json").read_text("utf-8"), "utf-8"
        )
        meta = json.loads((WORKFLOWS / f"{name}.meta.json").read_text("utf-8"))
        (folder / f"cpu_test_{name}.meta.json").write_text(json.dumps({**meta, "min_vram_gb": 0}), "utf-8")
    return folder


AGENT_ENV = {"AIPIPE_AGENT_HEARTBEAT_S": "0.5", "AIPIPE_AGENT_CLAIM_WAIT_S": "0.5"}


def probe(data: bytes) -> dict[str, Any]:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return {
            "frames": frames,
            "fps": Fraction(stream.average_rate),
            "size": (stream.codec_context.width, stream.codec_context.height),
        }


def movie_of(admin: httpx.Client, version: dict[str, Any]) -> dict[str, Any]:
    movie = next(f for f in version["files"] if f["name"].endswith(".mp4"))
    return probe(admin.get(movie["url"]).content)


@pytest.mark.timeout(420)
def test_render_ready_runs_i2v_rife_and_esrgan_on_two_agents(tmp_path: Path) -> None:
    workflows = cpu_copies(tmp_path / "workflows")
    server, password = start_server_with_admin(
        tmp_path / "server", None, {"AIPIPE_WORKFLOW_DIRS": json.dumps([str(workflows)])}
    )
    post_agent: subprocess.Popen[str] | None = None
    try:
        admin = login(server.url, ADMIN, password)
        project = admin.post(
            "/api/projects", json={"code": "RCP", "name": "레시피", "fps": "24", "width": 640, "height": 360}
        ).json()
        pid = project["id"]
        scene = admin.post(f"/api/projects/{pid}/scenes", json={}).json()
        shot = admin.post(
            f"/api/projects/{pid}/shots",
            json={"scene_id": scene["id"], "duration_frames": 12, "action": "Rina turns"},
        ).json()
        assert admin.post(f"/api/projects/{pid}/confirm", json={}).status_code == 200
        previz = admin.post(
            f"/api/shots/{shot['id']}/versions",
            data={"stage": "previz"},
            files={"files": ("frame.png", png_bytes(256, 144, "teal"), "image/png")},
        ).json()
        admin.post(f"/api/versions/{previz['id']}/reviews", json={"verdict": "approve"})
        made = admin.post(f"/api/projects/{pid}/recipes", json={"name": "film", "steps": STEPS})
        assert made.status_code == 201, made.text
        ready = admin.post(f"/api/projects/{pid}/render-ready", json={"recipe": "film", "shot_ids": None})
        assert ready.status_code == 201, ready.text
        [queued] = ready.json()["queued"]
        i2v_id, rife_id, esrgan_id = queued["job_ids"]

        key = admin.post("/api/api-keys", json={"name": "recipe-agents", "role": "agent"}).json()["key"]
        models = ["rife47.pth", "RealESRGAN_x2.pth"]
        with (
            running_standin(tmp_path / "comfy-render") as render_comfy,
            running_standin(tmp_path / "comfy-post", extra_nodes=["RIFE VFI"], models=models) as post_comfy,
        ):
            # The post steps run on another host: the parent's output reaches it through the server.
            post_agent = subprocess.Popen(
                [sys.executable, "-m", "render_agent", "--server", server.url, "--comfyui", post_comfy.url]
                + ["--name", "post-host", "--job-types", "interpolate,upscale"],
                env={
                    **os.environ,
                    **AGENT_ENV,
                    "AIPIPE_AGENT_API_KEY": key,
                    "AIPIPE_AGENT_WORK_DIR": str(tmp_path / "work-post"),
                },
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            state, output = run_agent_until_done(
                admin,
                server.url,
                key,
                tmp_path / "work-render",
                esrgan_id,
                ["--comfyui", render_comfy.url, "--name", "render-host", "--job-types", "i2v"],
                env=AGENT_ENV,
                timeout_s=240,
            )
            post_agent.send_signal(signal.SIGTERM)
            post_output = post_agent.communicate(timeout=30)[0]
        assert state["status"] == "succeeded", (
            f"{state}\n--- render agent ---\n{output}\n--- post ---\n{post_output}"
        )
        jobs = {j: admin.get(f"/api/farm/jobs/{j}").json() for j in (i2v_id, rife_id, esrgan_id)}
        agents = {a["id"]: a["name"] for a in admin.get("/api/farm/agents").json()}
        assert [agents[jobs[j]["agent_id"]] for j in (i2v_id, rife_id, esrgan_id)] == [
            "render-host",
            "post-host",
            "post-host",
        ]
        render, interp, upscale = (
            admin.get(f"/api/versions/{jobs[j]['version_id']}").json() for j in (i2v_id, rife_id, esrgan_id)
        )
        assert [(v["stage"], v["number"]) for v in (render, interp, upscale)] == [
            ("render", 1),
            ("interp", 1),
            ("upscale", 1),
        ]
        # 12 frames at 24 fps; RIFE 2x: (12 - 1) x 2 + 1 frames at 48 fps; ESRGAN 2x: twice the size.
        assert movie_of(admin, render) == {"frames": 12, "fps": 24, "size": (128, 72)}
        assert movie_of(admin, interp) == {"frames": 23, "fps": 48, "size": (128, 72)}
        assert movie_of(admin, upscale) == {"frames": 23, "fps": 48, "size": (256, 144)}
        assert jobs[rife_id]["params"]["fps"] == 48  # bound at claim from the render's own rate
        # the first step is checked like the others: its length at its fps (the agent's output check)
        checked = render["provenance"]["output_check"]["outputs"]
        assert [(c["frames"], c["fps"]) for c in checked] == [(12, 24.0)]
        for version, step, parent, parent_version in (
            (render, 0, None, None),
            (interp, 1, i2v_id, render["id"]),
            (upscale, 2, rife_id, interp["id"]),
        ):
            provenance = version["provenance"]
            assert provenance["recipe"]["name"] == "film" and provenance["recipe"]["version"] == 1
            assert provenance["recipe"]["step"] == step and provenance.get("parent_job_id") == parent
            assert provenance.get("parent_version_id") == parent_version
        assert upscale["files"][0]["name"].startswith(f"{shot['code']}_upscale_v001")
    finally:
        if post_agent is not None and post_agent.poll() is None:
            post_agent.kill()
            post_agent.wait(timeout=10)
        server.stop()
