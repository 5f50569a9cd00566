"""The whole farm for real: a shot is rendered by a real `aipipe agent` process on the real server,
driving the ComfyUI stand-in (the only part that cannot run here), and comes back as a render version."""

from __future__ import annotations

import io
import json

import av
import httpx
from PIL import Image

from tests.comfyui_standin.fixtures import running_standin
from tests.conftest import ADMIN, start_server_with_admin
from tests.support.agent import run_agent_until_done
from tests.support.api import login
from tests.support.media import png_bytes


def test_a_shot_render_runs_on_an_agent_and_lands_as_a_version(tmp_path) -> None:
    server, password = start_server_with_admin(tmp_path / "server", None)
    try:
        admin = login(server.url, ADMIN, password)
        project = admin.post("/api/projects", json={"code": "E2E", "name": "끝에서 끝", "fps": "24"}).json()
        scene = admin.post(f"/api/projects/{project['id']}/scenes", json={}).json()
        shot = admin.post(
            f"/api/projects/{project['id']}/shots",
            json={"scene_id": scene["id"], "duration_frames": 24, "action": "Rina runs"},
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
        job = job.json()
        assert job["params"]["length"] == 24 and (job["params"]["width"], job["params"]["height"]) == (
            512,
            288,
        )
        key = admin.post("/api/api-keys", json={"name": "e2e-agent", "role": "agent"}).json()["key"]

        # ComfyUI with previews on: the sampler's preview images reach the server with the heartbeats.
        with running_standin(tmp_path / "comfy", send_previews=True, node_delay=0.4) as comfy:
            state, output = run_agent_until_done(
                admin,
                server.url,
                key,
                tmp_path / "work",
                job["id"],
                ["--comfyui", comfy.url, "--name", "e2e-cpu", "--job-types", "i2v"],
                env={"AIPIPE_AGENT_HEARTBEAT_S": "0.2"},
                timeout_s=90,
            )
        assert state["status"] == "succeeded", f"{state}\n--- agent ---\n{output}"
        assert state["gpu_seconds"] is not None and state["attempts"] == 1  # the first try counts
        version = admin.get(f"/api/versions/{state['version_id']}").json()
        assert version["stage"] == "render" and version["number"] == 1
        assert version["provenance"]["job_id"] == job["id"] and version["provenance"]["comfyui_prompt_id"]
        movie = next(f for f in version["files"] if f["name"].endswith(".mp4"))
        # Named by the project's templates, like an artist's upload (not ComfyUI's "cpu_test_00001_.mp4").
        assert movie["name"] == f"{shot['code']}_render_v001.mp4"
        clip = tmp_path / "render.mp4"
        clip.write_bytes(httpx.get(server.url + movie["url"], headers=admin.headers).content)
        with av.open(str(clip)) as container:
            stream = container.streams.video[0]
            frames = sum(1 for _ in container.decode(stream))
            assert (stream.codec_context.width, stream.codec_context.height) == (512, 288)
        assert frames == 24
        agents = admin.get("/api/farm/agents").json()
        assert [a["name"] for a in agents] == ["e2e-cpu"] and agents[0]["gpus"] == []
        assert json.dumps(agents[0]["gpu_error"])  # says why there is no GPU
        # The newest preview the sampler showed is kept with the job, as the image it is.
        assert state["preview_mime"] == "image/png"
        preview = admin.get(f"/api/farm/jobs/{job['id']}/preview")
        assert preview.status_code == 200 and preview.headers["content-type"] == "image/png"
        with Image.open(io.BytesIO(preview.content)) as image:
            assert image.size == (8, 8)
    finally:
        server.stop()
