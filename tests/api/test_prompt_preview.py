"""`GET /api/shots/{id}/prompt?workflow=...` previews what a render of the shot binds; render jobs use
the same prompt and chain the subjects' LoRAs into workflows that have no LoRA slots."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from sync_server.db.engine import make_engine
from sync_server.db.models import Job
from tests.support.api import Api, assert_problem


def _stored_graph(api: Api, job_id: str) -> dict[str, Any]:
    engine = make_engine(api.sqlalchemy_url)
    try:
        with engine.connect() as conn:
            return conn.scalar(select(Job.graph).where(Job.id == uuid.UUID(job_id)))
    finally:
        engine.dispose()


def _shot(api: Api) -> dict[str, Any]:
    project = api.project(fps="24")
    pid = project["id"]
    rina = api.admin.post(
        f"/api/projects/{pid}/characters",
        json={
            "name": "리나",
            "description": "20대 여성, 짧은 검은 머리",
            "clothing_options": ["빨간 코트"],
            "trigger_words": ["rina_v1"],
            "lora_file": "loras/rina_v1.safetensors",
            "lora_strength": 0.8,
        },
    ).json()
    alley = api.admin.post(
        f"/api/projects/{pid}/environments",
        json={"name": "골목길", "location": "narrow alley", "time_of_day": "night", "weather": "rain"},
    ).json()
    presets = api.admin.get(f"/api/projects/{pid}/presets", params={"q": "Slow Push In"}).json()["items"]
    shot = api.shot(
        pid,
        api.scene(pid)["id"],
        action="Rina sprints into the alley",
        environment_id=alley["id"],
        preset_id=presets[0]["id"],
        subjects=[{"character_id": rina["id"], "clothing": "빨간 코트"}],
    )
    return {"project": project, "shot": shot, "rina": rina}


def test_the_preview_says_where_every_fragment_came_from(api: Api) -> None:
    sample = _shot(api)
    response = api.admin.get(
        f"/api/shots/{sample['shot']['id']}/prompt", params={"workflow": "flux1_dev_t2i"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["workflow"] == "flux1_dev_t2i" and body["style"]["family"] == "flux"
    assert body["positive"] == (
        "Medium close-up shot, eye level, 50mm lens, dolly in camera. "
        "rina_v1, 리나, 20대 여성, 짧은 검은 머리, wearing 빨간 코트. "
        "Rina sprints into the alley. Narrow alley, night, rain. 35mm film, soft key light."
    )
    sources = {f["source"]: f["text"] for f in body["fragments"] if f["part"] == "positive"}
    assert sources["character:리나.trigger_words"] == "rina_v1"
    assert sources["preset:Slow Push In.lens"] == "50mm lens"
    assert sources["environment:골목길.weather"] == "rain"
    assert sources["shot.action"] == "Rina sprints into the alley"
    assert body["loras"] == [
        {"name": "rina_v1.safetensors", "strength": 0.8, "source": "character:리나.lora_file"}
    ]
    again = api.admin.get(f"/api/shots/{sample['shot']['id']}/prompt", params={"workflow": "flux1_dev_t2i"})
    assert again.json() == body


def test_the_preview_shows_the_lora_chain_of_a_workflow_without_slots(api: Api) -> None:
    sample = _shot(api)
    body = api.admin.get(
        f"/api/shots/{sample['shot']['id']}/prompt", params={"workflow": "wan22_i2v_14b", "graph": "true"}
    ).json()
    assert body["style"]["family"] == "wan"
    nodes = body["lora_nodes"]
    assert len(nodes) == 2  # one after each of Wan 2.2's two experts
    assert {
        (n["class_type"], n["inputs"]["lora_name"], n["inputs"]["strength_model"]) for n in nodes.values()
    } == {("LoraLoaderModelOnly", "rina_v1.safetensors", 0.8)}


def test_unknown_shots_and_workflows_are_named(api: Api) -> None:
    sample = _shot(api)
    assert_problem(api.admin.get("/api/shots/00000000-0000-0000-0000-000000000000/prompt"), 404)
    assert_problem(
        api.admin.get(f"/api/shots/{sample['shot']['id']}/prompt", params={"workflow": "nope"}),
        404,
        "workflow",
    )


def test_a_render_job_binds_the_previewed_prompt_and_chains_the_loras(api: Api) -> None:
    sample = _shot(api)
    shot_id = sample["shot"]["id"]
    preview = api.admin.get(f"/api/shots/{shot_id}/prompt", params={"workflow": "flux1_dev_t2i"}).json()
    job = api.admin.post(f"/api/shots/{shot_id}/render", json={"workflow": "flux1_dev_t2i"})
    assert job.status_code == 201, job.text
    body = job.json()
    assert body["params"]["positive"] == preview["positive"]
    assert body["params"]["loras"] == [{"name": "rina_v1.safetensors", "strength": 0.8}]
    graph = _stored_graph(api, body["id"])  # what the agent will be handed at claim time
    loaders = {k: n for k, n in graph.items() if n["class_type"] == "LoraLoaderModelOnly"}
    assert [n["inputs"]["lora_name"] for n in loaders.values()] == ["rina_v1.safetensors"]
    (loader_id,) = loaders
    assert graph[loader_id]["inputs"]["model"] == ["12", 0]  # after the UNETLoader ...
    assert graph["30"]["inputs"]["model"] == [loader_id, 0]  # ... and before ModelSamplingFlux
    api.admin.post(f"/api/farm/jobs/{body['id']}/cancel")
