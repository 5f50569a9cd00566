"""Takes for real: a real server queues a generate take and then an inpaint of it, a real `aipipe-agent`
process runs both on the ComfyUI stand-in (weightless image nodes that honour masks), and each comes back
as the shot's next previz version with its provenance; the inpaint changed only the mask's white.

This host has no GPU, so its agent reports none: the shipped templates (24 GB) would never be offered to
it. The test serves copies of them that ask for no VRAM (AIPIPE_WORKFLOW_DIRS), graphs unchanged.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from tests.comfyui_standin.fixtures import running_standin
from tests.conftest import ADMIN, start_server_with_admin
from tests.support.agent import run_agent_until_done
from tests.support.api import login

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
TEMPLATES = ("flux1_dev_t2i", "flux1_fill_inpaint")
SIZE = (256, 160)


def no_vram_copies(folder: Path) -> list[str]:
    """The templates as `cpu_<name>` with min_vram_gb 0; returns the model files they load."""
    folder.mkdir(parents=True)
    models: set[str] = set()
    for name in TEMPLATES:
        shutil.copy(WORKFLOWS / f"{name}.json", folder / f"cpu_{name}.json")
        meta = json.loads((WORKFLOWS / f"{name}.meta.json").read_text())
        meta["min_vram_gb"] = 0
        (folder / f"cpu_{name}.meta.json").write_text(json.dumps(meta))
        models.update(meta["models"])
    return sorted(models)


def picture(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.int16)


def test_generate_then_inpaint_through_a_real_agent(tmp_path: Path) -> None:
    models = no_vram_copies(tmp_path / "workflows")
    env = {"AIPIPE_WORKFLOW_DIRS": json.dumps([str(tmp_path / "workflows")])}
    server, password = start_server_with_admin(tmp_path / "server", None, env)
    try:
        admin = login(server.url, ADMIN, password)
        project = admin.post(
            "/api/projects", json={"code": "TAKES", "name": "테이크", "width": 1280, "height": 800}
        )
        pid = project.json()["id"]
        scene = admin.post(f"/api/projects/{pid}/scenes", json={}).json()
        shot = admin.post(
            f"/api/projects/{pid}/shots", json={"scene_id": scene["id"], "action": "Rina runs into the alley"}
        ).json()
        key = admin.post("/api/api-keys", json={"name": "takes-agent", "role": "agent"}).json()["key"]
        size = {"width": SIZE[0], "height": SIZE[1]}
        generate = admin.post(
            f"/api/shots/{shot['id']}/takes",
            json={"workflow": "cpu_flux1_dev_t2i", "seed": 42, "params": size},
        )
        assert generate.status_code == 201, generate.text
        [job] = generate.json()["jobs"]

        with running_standin(tmp_path / "comfy", models=models) as comfy:
            args = ["--comfyui", comfy.url, "--name", "takes-cpu", "--job-types", "t2i,inpaint"]
            state, output = run_agent_until_done(admin, server.url, key, tmp_path / "work", job["id"], args)
            assert state["status"] == "succeeded", f"{state}\n--- agent ---\n{output}"
            take = admin.get(f"/api/versions/{state['version_id']}").json()
            assert take["stage"] == "previz" and take["files"][0]["name"] == f"{shot['code']}_previz_v001.png"
            assert take["provenance"]["operation"] == "generate" and take["provenance"]["seed"] == 42
            assert (
                take["provenance"]["agent_name"] == "takes-cpu" and take["provenance"]["job_id"] == job["id"]
            )
            generated = admin.get(take["files"][0]["url"]).content
            assert picture(generated).shape == (SIZE[1], SIZE[0], 3)

            mask = Image.new("L", SIZE, 0)
            ImageDraw.Draw(mask).rectangle((32, 32, 111, 95), fill=255)  # white = repaint
            buffer = io.BytesIO()
            mask.save(buffer, "PNG")
            published = admin.post(
                f"/api/shots/{shot['id']}/versions",
                data={"stage": "mask", "provenance": json.dumps({"source_version_id": take["id"]})},
                files={"files": ("mask.png", buffer.getvalue(), "image/png")},
            )
            assert published.status_code == 201, published.text
            inpaint = admin.post(
                f"/api/shots/{shot['id']}/takes",
                json={
                    "operation": "inpaint",
                    "workflow": "cpu_flux1_fill_inpaint",
                    "source_version_id": take["id"],
                    "mask_version_id": published.json()["id"],
                    "prompt": "a red door",
                },
            )
            assert inpaint.status_code == 201, inpaint.text
            [job] = inpaint.json()["jobs"]
            state, output = run_agent_until_done(admin, server.url, key, tmp_path / "work", job["id"], args)
            assert state["status"] == "succeeded", f"{state}\n--- agent ---\n{output}"

        painted = admin.get(f"/api/versions/{state['version_id']}").json()
        assert painted["number"] == 2 and painted["provenance"]["operation"] == "inpaint"
        assert painted["provenance"]["input_version_ids"] == [take["id"], published.json()["id"]]
        before, after = picture(generated), picture(admin.get(painted["files"][0]["url"]).content)
        inside = np.asarray(mask) == 255
        assert np.array_equal(after[~inside], before[~inside])  # outside the mask: exactly the take
        assert np.abs(after[inside] - before[inside]).mean() > 20  # inside: repainted
        takes = admin.get(f"/api/shots/{shot['id']}/takes").json()
        assert [t["version"]["number"] for t in takes["items"]] == [2, 1]
    finally:
        server.stop()
