"""From a shot to a render job and back to a version: the approved first frame, the bound prompt, the
agent publishing once (even when it retries) and completing with that version."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

from tests.api.test_farm import agent_client, claim, drain_queue, register
from tests.support.api import Api
from tests.support.media import h264_mp4, png_bytes


def publish(
    client: httpx.Client,
    shot_id: str,
    stage: str,
    name: str,
    data: bytes,
    mime: str,
    provenance: dict[str, Any] | None = None,
) -> httpx.Response:
    fields = {"stage": stage, "provenance": json.dumps(provenance or {})}
    return client.post(f"/api/shots/{shot_id}/versions", data=fields, files={"files": (name, data, mime)})


def _shot_with_approved_first_frame(api: Api) -> dict[str, Any]:
    project = api.project(fps="24000/1001", width=1920, height=1080)
    pid = project["id"]
    rina = api.admin.post(
        f"/api/projects/{pid}/characters",
        json={
            "name": "리나",
            "description": "short black hair",
            "clothing_options": ["빨간 코트"],
            "trigger_words": ["rina_v1"],
        },
    ).json()
    alley = api.admin.post(
        f"/api/projects/{pid}/environments",
        json={"name": "골목길", "prompt": "narrow Seoul alley at night, wet asphalt"},
    ).json()
    shot = api.shot(
        pid,
        api.scene(pid)["id"],
        action="Rina sprints into the alley",
        duration_frames=72,
        environment_id=alley["id"],
        subjects=[{"character_id": rina["id"], "clothing": "빨간 코트"}],
    )
    previz = publish(api.admin, shot["id"], "previz", "frame.png", png_bytes(), "image/png")
    assert previz.status_code == 201, previz.text
    verdict = api.admin.post(f"/api/versions/{previz.json()['id']}/reviews", json={"verdict": "approve"})
    assert verdict.status_code in (200, 201), verdict.text
    return {"project": project, "shot": shot, "previz": previz.json()}


def test_rendering_a_shot_without_an_approved_first_frame_is_refused(api: Api) -> None:
    project = api.project()
    shot = api.shot(project["id"], api.scene(project["id"])["id"])
    refused = api.admin.post(f"/api/shots/{shot['id']}/render", json={})
    assert refused.status_code == 409
    assert refused.json()["errors"][0]["field"] == "shot_id"
    assert "first frame" in refused.json()["detail"]


def test_a_render_job_binds_prompt_seed_first_frame_size_and_length(api: Api) -> None:
    sample = _shot_with_approved_first_frame(api)
    shot = sample["shot"]
    response = api.admin.post(f"/api/shots/{shot['id']}/render", json={"priority": 70})
    assert response.status_code == 201, response.text
    job = response.json()
    assert job["workflow"] == "wan22_i2v_14b" and job["type"] == "i2v" and job["output_stage"] == "render"
    params = job["params"]
    assert "rina_v1" in params["positive"] and "빨간 코트" in params["positive"]
    assert "wet asphalt" in params["positive"] and "sprints" in params["positive"]
    assert params["seed"] == uuid.UUID(shot["id"]).int % 2**32
    assert (
        params["width"] / params["height"] == 16 / 9
        or abs(params["width"] / params["height"] - 16 / 9) < 0.05
    )
    # 72 frames at 23.976 fps = 3.003 s; Wan runs at 16 fps with 4k+1 frames.
    assert params["length"] == 49
    again = api.admin.post(
        f"/api/shots/{shot['id']}/render", json={"seed": 7, "params": {"length": 17}}
    ).json()
    assert again["params"]["seed"] == 7 and again["params"]["length"] == 17
    api.admin.post(f"/api/farm/jobs/{again['id']}/cancel")
    api.admin.post(f"/api/farm/jobs/{job['id']}/cancel")


def test_the_agent_publishes_the_render_once_and_completes_with_it(api: Api) -> None:
    sample = _shot_with_approved_first_frame(api)
    shot = sample["shot"]
    drain_queue(api)
    job = api.admin.post(f"/api/shots/{shot['id']}/render", json={}).json()
    agent = agent_client(api)
    agent_id = register(agent)
    got = claim(agent, agent_id)
    assert got is not None and got["job"]["id"] == job["id"]
    first_frame = got["job"]["inputs"][0]
    assert first_frame["role"] == "image" and first_frame["targets"]
    assert agent.get(first_frame["url"]).content == png_bytes()  # agents can fetch their inputs
    node, name = first_frame["targets"][0]
    assert got["job"]["graph"][node]["inputs"][name] == first_frame["name"]
    provenance = {
        "job_id": job["id"],
        "workflow": job["workflow"],
        "prompt": job["params"]["positive"],
        "seed": job["params"]["seed"],
        "agent": agent_id,
        "gpu_seconds": 3.5,
    }
    clip = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64
    first = publish(agent, shot["id"], "render", "SHT_render.mp4", clip, "video/mp4", provenance)
    retry = publish(agent, shot["id"], "render", "SHT_render.mp4", clip, "video/mp4", provenance)
    assert first.status_code in (200, 201), first.text
    assert retry.json()["id"] == first.json()["id"]
    versions = api.admin.get(f"/api/shots/{shot['id']}/versions", params={"stage": "render"}).json()["items"]
    assert len(versions) == 1 and versions[0]["number"] == 1
    done = agent.post(
        f"/api/farm/jobs/{job['id']}/complete",
        json={"lease_id": got["lease"]["id"], "gpu_seconds": 3.5, "version_id": first.json()["id"]},
    )
    assert done.status_code == 200, done.text
    finished = api.admin.get(f"/api/farm/jobs/{job['id']}").json()
    assert finished["status"] == "succeeded" and finished["version_id"] == first.json()["id"]
    assert finished["gpu_seconds"] == 3.5
    assert versions[0]["provenance"]["seed"] == job["params"]["seed"]


def test_uploaded_outputs_of_a_shot_job_become_its_next_render_version(api: Api, tmp_path) -> None:
    sample = _shot_with_approved_first_frame(api)
    shot = sample["shot"]
    drain_queue(api)
    job = api.admin.post(f"/api/shots/{shot['id']}/render", json={"seed": 11}).json()
    agent = agent_client(api)
    agent_id = register(agent)
    got = claim(agent, agent_id)
    assert got["job"]["id"] == job["id"]
    clip = h264_mp4(tmp_path / "render.mp4", seconds=1.0).read_bytes()
    lease_id = got["lease"]["id"]
    uploaded = agent.post(
        f"/api/farm/jobs/{job['id']}/outputs",
        data={"lease_id": lease_id},
        files={"files": ("SHT_render_00001.mp4", clip, "video/mp4")},
    )
    assert uploaded.status_code == 200, uploaded.text
    body = {"lease_id": lease_id, "gpu_seconds": 12.5, "provenance": {"comfyui_prompt_id": "abc"}}
    done = agent.post(f"/api/farm/jobs/{job['id']}/complete", json=body)
    assert done.status_code == 200, done.text
    again = agent.post(f"/api/farm/jobs/{job['id']}/complete", json=body)
    assert again.json()["version_id"] == done.json()["version_id"]
    version = api.admin.get(f"/api/versions/{done.json()['version_id']}").json()
    assert version["stage"] == "render" and version["number"] == 1
    provenance = version["provenance"]
    assert (
        provenance["seed"] == 11
        and "rina_v1" in provenance["prompt"]
        and provenance["workflow"] == "wan22_i2v_14b"
    )
    assert provenance["gpu_seconds"] == 12.5 and version["gpu_seconds"] == 12.5
    assert provenance["comfyui_prompt_id"] == "abc" and provenance["agent"] == agent_id
    assert any(m.startswith("wan2.2_i2v") for m in provenance["models"])
    assert version["provenance"]["job_id"] == job["id"]
    media = version["files"][0]["media"]
    assert media.get("codec") == "h264" or media.get("video", {}).get("codec") == "h264", media
    assert agent.get(version["files"][0]["url"]).content == clip


def test_subjects_loras_are_bound_into_a_lora_workflow(api: Api) -> None:
    sample = _shot_with_approved_first_frame(api)
    pid = sample["project"]["id"]
    rina = api.admin.get(f"/api/projects/{pid}/characters").json()["items"][0]
    api.admin.patch(
        f"/api/characters/{rina['id']}",
        json={"lora_file": "loras/rina_v1.safetensors", "lora_strength": 0.7, "revision": rina["revision"]},
    )
    job = api.admin.post(f"/api/shots/{sample['shot']['id']}/render", json={"workflow": "flux1_dev_lora_t2i"})
    assert job.status_code == 201, job.text
    body = job.json()
    assert body["params"]["loras"] == [{"name": "rina_v1.safetensors", "strength": 0.7}]
    assert body["output_stage"] == "previz"
    api.admin.post(f"/api/farm/jobs/{body['id']}/cancel")


def test_the_workflow_comes_from_the_request_then_the_shot_then_the_project(api: Api) -> None:
    sample = _shot_with_approved_first_frame(api)
    shot, project = sample["shot"], sample["project"]

    def rendered_with(**body: Any) -> str:
        response = api.admin.post(f"/api/shots/{shot['id']}/render", json=body)
        assert response.status_code == 201, response.text
        api.admin.post(f"/api/farm/jobs/{response.json()['id']}/cancel")
        return response.json()["workflow"]

    assert rendered_with() == "wan22_i2v_14b"  # nothing chosen: the server's default
    changed = api.admin.patch(
        f"/api/projects/{project['id']}",
        json={"render_workflow": "ltxv095_i2v", "revision": project["revision"]},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["render_workflow"] == "ltxv095_i2v"
    assert rendered_with() == "ltxv095_i2v"
    current = api.admin.get(f"/api/shots/{shot['id']}").json()
    mine = api.admin.patch(
        f"/api/shots/{shot['id']}",
        json={"render_workflow": "wan21_i2v_480p", "revision": current["revision"]},
    )
    assert mine.status_code == 200, mine.text
    assert rendered_with() == "wan21_i2v_480p"
    assert rendered_with(workflow="ltxv095_i2v") == "ltxv095_i2v"  # the request wins
    # A stored choice that no longer exists is refused, naming where it was made.
    gone = api.admin.patch(
        f"/api/shots/{shot['id']}",
        json={"render_workflow": "deleted_flow", "revision": mine.json()["revision"]},
    )
    assert gone.status_code == 200, gone.text
    refused = api.admin.post(f"/api/shots/{shot['id']}/render", json={})
    assert refused.status_code == 404
    assert refused.json()["errors"][0]["field"] == "shot.render_workflow"
    assert "deleted_flow" in refused.json()["detail"]
    cleared = api.admin.patch(
        f"/api/shots/{shot['id']}", json={"render_workflow": None, "revision": gone.json()["revision"]}
    )
    assert cleared.status_code == 200 and cleared.json()["render_workflow"] is None
    assert rendered_with() == "ltxv095_i2v"  # back to the project's
