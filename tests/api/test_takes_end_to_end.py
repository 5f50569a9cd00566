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

import httpx
import numpy as np
from PIL import Image, ImageDraw

from tests.comfyui_standin.fixtures import running_standin
from tests.conftest import ADMIN, start_server_with_admin
from tests.support.agent import run_agent_until_done
from tests.support.api import login

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
TEMPLATES = (
    "flux1_dev_t2i",
    "flux1_fill_inpaint",
    "flux1_dev_controlnet_depth",
    "qwen_image_edit",
    "flux1_dev_i2i",
    "flux1_fill_outpaint",
)
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
            assert_provenance(admin, take["id"], "cpu_flux1_dev_t2i", [])

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
        assert_provenance(
            admin, painted["id"], "cpu_flux1_fill_inpaint", [take["id"], published.json()["id"]]
        )
    finally:
        server.stop()


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def assert_provenance(admin: httpx.Client, version_id: str, workflow: str, inputs: list[str]) -> dict:
    """What issue 14 asks a take to record: the workflow, every bound parameter and seed, the input
    versions, the model files, the agent and its GPU-seconds (here as `GET /shots/{id}/takes` shows it)."""
    version = admin.get(f"/api/versions/{version_id}").json()
    listed = admin.get(f"/api/shots/{version['shot_id']}/takes", params={"limit": 100}).json()["items"]
    [row] = [t for t in listed if t["version"]["id"] == version_id]
    provenance = row["provenance"]
    meta = json.loads((WORKFLOWS / f"{workflow.removeprefix('cpu_')}.meta.json").read_text())
    assert provenance["workflow"] == workflow
    assert provenance["models"] and set(provenance["models"]) <= set(meta["models"])
    assert provenance["agent_name"] == "takes-cpu" and provenance["agent"]
    assert provenance["gpu_seconds"] > 0 and provenance["seed"] == provenance["params"]["seed"]
    assert provenance["input_version_ids"] == inputs
    return provenance


def test_control_edit_refine_and_outpaint_through_a_real_agent(tmp_path: Path) -> None:
    """A depth-controlled generate (the control image a `control` version of the shot), then a
    Qwen-Image-Edit of that take with a character's reference image, a refine and an outpaint of it, each
    run by a real agent."""
    models = no_vram_copies(tmp_path / "workflows")
    env = {"AIPIPE_WORKFLOW_DIRS": json.dumps([str(tmp_path / "workflows")])}
    server, password = start_server_with_admin(tmp_path / "server", None, env)
    try:
        admin = login(server.url, ADMIN, password)
        pid = admin.post("/api/projects", json={"code": "CTRL", "name": "컨트롤"}).json()["id"]
        scene = admin.post(f"/api/projects/{pid}/scenes", json={}).json()
        shot = admin.post(
            f"/api/projects/{pid}/shots", json={"scene_id": scene["id"], "action": "a box in a room"}
        ).json()
        rina = admin.post(f"/api/projects/{pid}/characters", json={"name": "리나"}).json()
        key = admin.post("/api/api-keys", json={"name": "takes-agent", "role": "agent"}).json()["key"]
        near = Image.new("L", SIZE, 0)  # depth: near = white
        ImageDraw.Draw(near).rectangle((96, 40, 159, 119), fill=255)
        depth = admin.post(
            f"/api/shots/{shot['id']}/versions",
            data={"stage": "control", "provenance": json.dumps({"control_kind": "depth"})},
            files={"files": ("depth.png", png(near), "image/png")},
        )
        assert depth.status_code == 201, depth.text
        controlled = admin.post(
            f"/api/shots/{shot['id']}/takes",
            json={
                "workflow": "cpu_flux1_dev_controlnet_depth",
                "control": {"kind": "depth", "strength": 1.0},
                "params": {"width": SIZE[0], "height": SIZE[1]},
            },
        )
        assert controlled.status_code == 201, controlled.text
        [job] = controlled.json()["jobs"]
        face = Image.new("RGB", (64, 64), (250, 20, 20))
        reference = admin.post(
            f"/api/characters/{rina['id']}/references", files={"files": ("face.png", png(face), "image/png")}
        )
        assert reference.status_code == 201, reference.text

        with running_standin(tmp_path / "comfy", models=models) as comfy:
            args = [
                "--comfyui",
                comfy.url,
                "--name",
                "takes-cpu",
                "--job-types",
                "t2i,image_edit,i2i,inpaint",
            ]
            state, output = run_agent_until_done(admin, server.url, key, tmp_path / "work", job["id"], args)
            assert state["status"] == "succeeded", f"{state}\n--- agent ---\n{output}"
            take_id = state["version_id"]
            provenance = assert_provenance(
                admin, take_id, "cpu_flux1_dev_controlnet_depth", [depth.json()["id"]]
            )
            assert provenance["params"]["control_strength"] == 1.0
            take = admin.get(f"/api/versions/{take_id}").json()
            made = picture(admin.get(take["files"][0]["url"]).content)
            box = np.asarray(near) == 255
            assert made.shape == (SIZE[1], SIZE[0], 3)
            # The stand-in's sampler follows the control image: the near box stands out of the picture.
            assert abs(made[box].mean() - made[~box].mean()) > 10

            edit = admin.post(
                f"/api/shots/{shot['id']}/takes",
                json={
                    "operation": "edit",
                    "workflow": "cpu_qwen_image_edit",
                    "source_version_id": take_id,
                    "instruction": "make it night, keep the composition",
                    "reference_version_ids": [reference.json()["id"]],
                },
            )
            assert edit.status_code == 201, edit.text
            [job] = edit.json()["jobs"]
            state, output = run_agent_until_done(admin, server.url, key, tmp_path / "work", job["id"], args)
            assert state["status"] == "succeeded", f"{state}\n--- agent ---\n{output}"
            edited_id = state["version_id"]

            # Refine and outpaint of the controlled take: farm jobs too, with their provenance.
            made_by: dict[str, str] = {}
            for operation, extra in (("refine", {"denoise": 0.5}), ("outpaint", {"aspect": "16:9"})):
                queued = admin.post(
                    f"/api/shots/{shot['id']}/takes",
                    json={
                        "operation": operation,
                        "workflow": f"cpu_flux1_{'dev_i2i' if operation == 'refine' else 'fill_outpaint'}",
                        "source_version_id": take_id,
                        **extra,
                    },
                )
                assert queued.status_code == 201, queued.text
                [job] = queued.json()["jobs"]
                done, output = run_agent_until_done(
                    admin, server.url, key, tmp_path / "work", job["id"], args
                )
                assert done["status"] == "succeeded", f"{done}\n--- agent ---\n{output}"
                made_by[operation] = done["version_id"]

        provenance = assert_provenance(
            admin, edited_id, "cpu_qwen_image_edit", [take_id, reference.json()["id"]]
        )
        assert provenance["operation"] == "edit"
        assert provenance["instruction"] == "make it night, keep the composition"
        edited = admin.get(f"/api/versions/{edited_id}").json()
        assert picture(admin.get(edited["files"][0]["url"]).content).shape == made.shape  # size kept
        refined = assert_provenance(admin, made_by["refine"], "cpu_flux1_dev_i2i", [take_id])
        assert refined["operation"] == "refine" and refined["params"]["denoise"] == 0.5
        outpainted = assert_provenance(admin, made_by["outpaint"], "cpu_flux1_fill_outpaint", [take_id])
        assert outpainted["operation"] == "outpaint"
        wide = admin.get(f"/api/versions/{made_by['outpaint']}").json()
        height, width, _ = picture(admin.get(wide["files"][0]["url"]).content).shape
        assert height == SIZE[1] and width > SIZE[0] and abs(width / height - 16 / 9) < 0.05  # padded to 16:9
    finally:
        server.stop()


def test_a_recipe_take_runs_its_chain_through_a_real_agent(tmp_path: Path) -> None:
    """Takes made with a project recipe (t2i -> i2i refine), two candidates with seeds 42 and 43: a real
    agent runs each chain on the stand-in, the refine reading its t2i's published image; the take listed
    is the chain's last image, with the recipe, its version and step and the parent in its provenance."""
    models = no_vram_copies(tmp_path / "workflows")
    env = {"AIPIPE_WORKFLOW_DIRS": json.dumps([str(tmp_path / "workflows")])}
    server, password = start_server_with_admin(tmp_path / "server", None, env)
    try:
        admin = login(server.url, ADMIN, password)
        pid = admin.post("/api/projects", json={"code": "CHAIN", "name": "체인"}).json()["id"]
        scene = admin.post(f"/api/projects/{pid}/scenes", json={}).json()
        shot = admin.post(
            f"/api/projects/{pid}/shots", json={"scene_id": scene["id"], "action": "Rina runs into the alley"}
        ).json()
        steps = [
            {
                "label": "t2i",
                "workflow": "cpu_flux1_dev_t2i",
                "params": {"width": SIZE[0], "height": SIZE[1]},
            },
            {"label": "refine", "workflow": "cpu_flux1_dev_i2i", "params": {"denoise": 0.5}},
        ]
        made = admin.post(f"/api/projects/{pid}/recipes", json={"name": "look", "steps": steps})
        assert made.status_code == 201, made.text
        key = admin.post("/api/api-keys", json={"name": "takes-agent", "role": "agent"}).json()["key"]
        queued = admin.post(
            f"/api/shots/{shot['id']}/takes",
            json={"recipe": "look", "candidates": 2, "seed": 42, "seeds": "increment"},
        )
        assert queued.status_code == 201, queued.text
        jobs = queued.json()["jobs"]
        firsts = {j["take"]["candidate"]: j for j in jobs if j["type"] == "t2i"}
        lasts = {j["take"]["candidate"]: j for j in jobs if j["type"] == "i2i"}
        assert sorted(firsts) == sorted(lasts) == [1, 2]

        args = ["--job-types", "t2i,i2i", "--name", "takes-cpu"]
        with running_standin(tmp_path / "comfy", models=models) as comfy:
            for candidate in (1, 2):
                state = admin.get(f"/api/farm/jobs/{lasts[candidate]['id']}").json()
                if state["status"] != "succeeded":
                    state, output = run_agent_until_done(
                        admin,
                        server.url,
                        key,
                        tmp_path / "work",
                        lasts[candidate]["id"],
                        ["--comfyui", comfy.url, *args],
                    )
                    assert state["status"] == "succeeded", f"{state}\n--- agent ---\n{output}"

        listed = admin.get(f"/api/shots/{shot['id']}/takes", params={"limit": 100}).json()["items"]
        take_ids = set()
        for candidate, seed in ((1, 42), (2, 43)):
            first = admin.get(f"/api/farm/jobs/{firsts[candidate]['id']}").json()
            last = admin.get(f"/api/farm/jobs/{lasts[candidate]['id']}").json()
            step = admin.get(f"/api/versions/{first['version_id']}").json()
            take = admin.get(f"/api/versions/{last['version_id']}").json()
            assert step["stage"] == take["stage"] == "previz"
            assert (
                step["provenance"]["seed"] == seed and step["provenance"]["workflow"] == "cpu_flux1_dev_t2i"
            )
            assert step["provenance"]["recipe"]["step"] == 0 and step["provenance"]["take_role"] == "step"
            provenance = assert_provenance(admin, take["id"], "cpu_flux1_dev_i2i", [step["id"]])
            assert provenance["recipe"]["name"] == "look" and provenance["recipe"]["version"] == 1
            assert provenance["recipe"]["step"] == 1 and provenance["take_role"] == "take"
            assert (
                provenance["parent_job_id"] == first["id"] and provenance["parent_version_id"] == step["id"]
            )
            assert provenance["seed"] == seed and provenance["params"]["denoise"] == 0.5
            assert provenance["operation"] == "generate" and provenance["take"]["recipe"] == "look"
            made_image = picture(admin.get(take["files"][0]["url"]).content)
            assert made_image.shape == (SIZE[1], SIZE[0], 3)
            take_ids.add(take["id"])
        # The takes compared are the chains' last images; their t2i steps are not takes.
        assert {t["version"]["id"] for t in listed} == take_ids
        chosen = sorted(take_ids)[0]
        used = admin.post(f"/api/versions/{chosen}/use-as-first-frame", json={"note": "this one"})
        assert used.status_code == 200 and used.json()["is_first_frame"], used.text
        step_id = admin.get(f"/api/farm/jobs/{firsts[1]['id']}").json()["version_id"]
        refused = admin.post(f"/api/versions/{step_id}/use-as-first-frame", json={})
        assert refused.status_code == 409 and refused.json()["errors"][0]["field"] == "version_id"
        # Redo from the take: the recipe's chain again (the version it was made with, not a newer one), with
        # a new seed.
        newer = [steps[0], {**steps[1], "params": {"denoise": 0.7}}]
        saved = admin.put(f"/api/projects/{pid}/recipes/look", json={"steps": newer})
        assert saved.status_code in (200, 201) and saved.json()["version"] == 2, saved.text
        redo = admin.post(f"/api/versions/{chosen}/redo", json={})
        assert redo.status_code == 201, redo.text
        again = redo.json()["jobs"]
        assert [j["workflow"] for j in again] == ["cpu_flux1_dev_t2i", "cpu_flux1_dev_i2i"]
        assert again[0]["params"]["seed"] not in (42, 43) and again[1]["take"]["redo_of"] == chosen
        assert again[0]["params"]["width"] == SIZE[0] and again[1]["params"]["denoise"] == 0.5
        assert again[1]["take"]["provenance"]["recipe"]["version"] == 1
    finally:
        server.stop()
