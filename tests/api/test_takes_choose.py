"""Takes chosen and redone, many queued at once, character references (real HTTP, SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from tests.api.takes_support import UPLOAD_LIMIT, publish, queued, sample_shot, takes_api
from tests.support.api import Api, assert_problem
from tests.support.media import png_bytes

__all__ = ["takes_api"]
GPU_48 = [{"index": 0, "name": "NVIDIA RTX 6000 Ada", "vram_total_mb": 49140, "vram_free_mb": 48000}]


def _agent(api: Api) -> tuple[httpx.Client, str]:
    key = api.admin.post("/api/api-keys", json={"name": f"agent-{uuid.uuid4().hex[:6]}", "role": "agent"})
    assert key.status_code == 201, key.text
    client = httpx.Client(
        base_url=api.base_url, headers={"Authorization": f"Bearer {key.json()['key']}"}, timeout=60
    )
    registered = client.post(
        "/api/farm/agents/register", json={"name": f"gpu-{uuid.uuid4().hex[:8]}", "gpus": GPU_48}
    )
    assert registered.status_code == 200, registered.text
    return client, registered.json()["agent_id"]


def _run_as_agent(api: Api, job_id: str, image: bytes) -> dict[str, Any]:
    """Claim `job_id` (the highest priority queued), upload an image as its output, complete it: the
    server publishes the take. Returns the version."""
    agent, agent_id = _agent(api)
    try:
        claimed = agent.post(f"/api/farm/agents/{agent_id}/claim", json={"wait_s": 0})
        assert claimed.status_code == 200, claimed.text
        assert claimed.json()["job"]["id"] == job_id
        lease_id = claimed.json()["lease"]["id"]
        uploaded = agent.post(
            f"/api/farm/jobs/{job_id}/outputs",
            data={"lease_id": lease_id},
            files={"files": ("ComfyUI_00001_.png", image, "image/png")},
        )
        assert uploaded.status_code == 200, uploaded.text
        done = agent.post(
            f"/api/farm/jobs/{job_id}/complete", json={"lease_id": lease_id, "gpu_seconds": 7.5}
        )
        assert done.status_code == 200, done.text
        return api.admin.get(f"/api/versions/{done.json()['version_id']}").json()
    finally:
        agent.close()


def test_a_finished_take_records_its_provenance_and_is_redone_with_a_new_seed(takes_api: Api) -> None:
    sample = sample_shot(takes_api)
    shot_id, source = sample["shot"]["id"], sample["take"]
    [job] = queued(
        takes_api,
        shot_id,
        operation="refine",
        source_version_id=source["id"],
        denoise=0.4,
        priority=100,
        prompt="rain on the alley",
    )
    version = _run_as_agent(takes_api, job["id"], png_bytes(64, 64, "blue"))
    assert version["stage"] == "previz" and version["gpu_seconds"] == 7.5
    listed = takes_api.admin.get(f"/api/shots/{shot_id}/takes").json()
    assert listed["total"] == 2 and listed["items"][0]["version"]["id"] == version["id"]
    provenance = listed["items"][0]["provenance"]
    assert provenance["workflow"] == "flux1_dev_i2i" and provenance["operation"] == "refine"
    assert provenance["seed"] == job["params"]["seed"] and provenance["params"] == job["params"]
    assert provenance["params"]["denoise"] == 0.4 and provenance["prompt"] == "rain on the alley"
    assert provenance["input_version_ids"] == [source["id"]]
    assert "flux1-dev.safetensors" in provenance["models"]
    assert provenance["agent"] and provenance["agent_name"].startswith("gpu-")
    assert provenance["gpu_seconds"] == 7.5 and provenance["job_id"] == job["id"]
    assert provenance["take"]["operation"] == "refine"

    [again] = takes_api.admin.post(f"/api/versions/{version['id']}/redo", json={}).json()["jobs"]
    assert again["workflow"] == "flux1_dev_i2i" and again["params"]["seed"] != job["params"]["seed"]
    same = {k: v for k, v in job["params"].items() if k != "seed"}
    assert {k: v for k, v in again["params"].items() if k != "seed"} == same
    assert again["inputs"][0]["version_id"] == source["id"] and again["take"]["redo_of"] == version["id"]
    [same_seed] = takes_api.admin.post(
        f"/api/versions/{version['id']}/redo", json={"new_seed": False}
    ).json()["jobs"]
    assert same_seed["params"]["seed"] == job["params"]["seed"]
    changed = takes_api.admin.post(
        f"/api/versions/{version['id']}/redo",
        json={"changes": {"prompt": "snow on the alley", "denoise": 0.7, "candidates": 2}},
    )
    assert changed.status_code == 201, changed.text
    jobs = changed.json()["jobs"]
    assert len(jobs) == 2 and {j["params"]["positive"] for j in jobs} == {"snow on the alley"}
    assert {j["params"]["denoise"] for j in jobs} == {0.7}
    bad = takes_api.admin.post(f"/api/versions/{version['id']}/redo", json={"changes": {"denoise": 0.01}})
    assert_problem(bad, 422, "params.denoise")
    not_a_take = publish(takes_api.admin, shot_id, "mask", png_bytes(64, 64, "white"))
    assert_problem(takes_api.admin.post(f"/api/versions/{not_a_take['id']}/redo", json={}), 409, "version_id")


def test_use_as_first_frame_records_the_verdict_and_pins_the_take(takes_api: Api) -> None:
    sample = sample_shot(takes_api)
    shot_id, older = sample["shot"]["id"], sample["take"]
    newer = publish(takes_api.admin, shot_id, "previz", png_bytes(64, 64, "green"))
    approved = takes_api.admin.post(f"/api/versions/{newer['id']}/reviews", json={"verdict": "approve"})
    assert approved.status_code == 201, approved.text
    assert takes_api.admin.get(f"/api/shots/{shot_id}/first-frame").json()["version"]["id"] == newer["id"]

    chosen = takes_api.admin.post(
        f"/api/versions/{older['id']}/use-as-first-frame", json={"note": "better light"}
    )
    assert chosen.status_code == 200, chosen.text
    assert chosen.json()["is_first_frame"] and chosen.json()["verdict"] == "approve"
    first = takes_api.admin.get(f"/api/shots/{shot_id}/first-frame").json()
    assert first["version"]["id"] == older["id"] and first["pinned"] is True  # pinned beats newer approved
    reviews = takes_api.admin.get(f"/api/versions/{older['id']}/reviews").json()["items"]
    assert [(r["verdict"], r["text"]) for r in reviews] == [("approve", "better light")]
    assert takes_api.admin.get(f"/api/shots/{shot_id}").json()["status"] == "approved"
    listed = {
        t["version"]["id"]: t["is_first_frame"]
        for t in takes_api.admin.get(f"/api/shots/{shot_id}/takes").json()["items"]
    }
    assert listed == {older["id"]: True, newer["id"]: False}

    # The first frame is what a render binds: the pinned take is its i2v input, not the newer approved one.
    render = takes_api.admin.post(f"/api/shots/{shot_id}/render", json={})
    assert render.status_code == 201, render.text
    assert render.json()["params"]["seed"] is not None
    engine = create_engine(takes_api.sqlalchemy_url)
    try:
        with engine.connect() as conn:
            job_key = uuid.UUID(render.json()["id"])
            stored = conn.execute(
                text("SELECT inputs FROM jobs WHERE id = :j"),
                {"j": job_key.hex if takes_api.backend == "sqlite" else job_key},
            ).scalar_one()
    finally:
        engine.dispose()
    stored = json.loads(stored) if isinstance(stored, str) else stored
    assert [(i["role"], i["version_id"]) for i in stored] == [("image", older["id"])]
    # Rejecting the pinned take unpins it: the newest approved take is the first frame again.
    rejected = takes_api.admin.post(f"/api/versions/{older['id']}/reviews", json={"verdict": "reject"})
    assert rejected.status_code == 201, rejected.text
    first = takes_api.admin.get(f"/api/shots/{shot_id}/first-frame").json()
    assert first["version"]["id"] == newer["id"] and first["pinned"] is False

    artist = takes_api.user("artist")
    assert_problem(artist.post(f"/api/versions/{older['id']}/use-as-first-frame", json={}), 403)
    artist.close()
    mask = publish(takes_api.admin, shot_id, "mask", png_bytes(64, 64, "white"))
    assert_problem(
        takes_api.admin.post(f"/api/versions/{mask['id']}/use-as-first-frame", json={}), 409, "version_id"
    )


def test_take_rows_carry_the_versions_first_frame_or_null_where_it_said_none(takes_api: Api) -> None:
    """The add-on's Image Editor numbers a take from its version's first_frame, as the VSE and the review
    room do: the take rows carry it (993 as published; null where the take said no number)."""
    sample = sample_shot(takes_api)
    shot_id, plain = sample["shot"]["id"], sample["take"]
    files = {"files": ("own.png", png_bytes(64, 64, "red"), "image/png")}
    own = takes_api.admin.post(
        f"/api/shots/{shot_id}/versions", data={"stage": "previz", "first_frame": "993"}, files=files
    )
    assert own.status_code == 201, own.text
    rows = takes_api.admin.get(f"/api/shots/{shot_id}/takes").json()["items"]
    said = {r["version"]["id"]: r["version"]["first_frame"] for r in rows}
    assert said == {own.json()["id"]: 993, plain["id"]: None}
    chosen = takes_api.admin.post(f"/api/versions/{own.json()['id']}/use-as-first-frame", json={})
    assert chosen.status_code == 200, chosen.text
    assert chosen.json()["version"]["first_frame"] == 993  # the row use-as-first-frame answers with, too


def test_800_candidates_for_200_shots_in_one_request(takes_api: Api) -> None:
    project = takes_api.project(width=1280, height=720)
    pid = project["id"]
    scene = takes_api.scene(pid)

    def make(index: int) -> str:
        return takes_api.shot(pid, scene["id"], code=f"SHT_{(index + 1) * 10:04d}", action=f"beat {index}")[
            "id"
        ]

    with ThreadPoolExecutor(4) as pool:
        shots = list(pool.map(make, range(200)))
    response = takes_api.admin.post(
        f"/api/projects/{pid}/takes", json={"shots": shots, "candidates": 4}, timeout=120
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["count"] == 800 and len(body["jobs"]) == 800
    assert len({j["seed"] for j in body["jobs"]}) == 800  # distinct seeds
    per_shot: dict[str, int] = {}
    for job in body["jobs"]:
        per_shot[job["shot_id"]] = per_shot.get(job["shot_id"], 0) + 1
    assert per_shot == {shot: 4 for shot in shots}
    queued_jobs = takes_api.admin.get(
        "/api/farm/jobs", params={"project_id": pid, "status": "queued", "limit": 1}
    ).json()
    assert queued_jobs["total"] == 800
    one = takes_api.admin.get(f"/api/farm/jobs/{body['jobs'][0]['id']}").json()
    assert one["workflow"] == "flux1_dev_t2i" and one["output_stage"] == "previz"
    assert "beat" in one["params"]["positive"].lower()

    other = takes_api.project()
    foreign = takes_api.admin.post(f"/api/projects/{other['id']}/takes", json={"shots": shots[:2]})
    assert_problem(foreign, 422, "shots.0")
    layout = takes_api.admin.post(
        f"/api/projects/{pid}/takes",
        json={"shots": shots[:1], "control": {"kind": "depth"}, "control_from_layout": True},
    )
    assert_problem(layout, 422, "control.version_id")  # no control image of that kind yet
    assert_problem(
        takes_api.admin.post(
            f"/api/projects/{pid}/takes", json={"shots": shots[:1], "control_from_layout": True}
        ),
        422,
        "control",
    )
    after = takes_api.admin.get(
        "/api/farm/jobs", params={"project_id": pid, "status": "queued", "limit": 1}
    ).json()
    assert after["total"] == 800  # refused batches queue nothing


def test_batch_with_control_from_each_shots_layout(takes_api: Api) -> None:
    sample = sample_shot(takes_api)
    pid, shot_id = sample["project"]["id"], sample["shot"]["id"]
    second = takes_api.shot(pid, sample["scene"]["id"])
    depths = {
        s: publish(takes_api.admin, s, "control", png_bytes(64, 36, "gray"), {"control_kind": "depth"})["id"]
        for s in (shot_id, second["id"])
    }
    response = takes_api.admin.post(
        f"/api/projects/{pid}/takes",
        json={
            "shots": [shot_id, second["id"]],
            "control": {"kind": "depth", "strength": 0.5},
            "control_from_layout": True,
            "seeds": "increment",
            "seed": 5,
            "candidates": 2,
        },
    )
    assert response.status_code == 202, response.text
    for item in response.json()["jobs"]:
        job = takes_api.admin.get(f"/api/farm/jobs/{item['id']}").json()
        assert job["workflow"] == "flux1_dev_controlnet_depth" and job["params"]["control_strength"] == 0.5
        if item["shot_id"] == shot_id:  # the batch binds the prompt engine as a single request does
            positive = job["params"]["positive"]
            assert "rina_v1" in positive and "50mm lens" in positive and "narrow alley" in positive.lower()
            assert job["params"]["loras"] == [{"name": "rina_v1.safetensors", "strength": 0.8}]
    takes = takes_api.admin.get("/api/farm/jobs", params={"shot_id": second["id"], "limit": 10}).json()[
        "items"
    ]
    assert sorted(j["params"]["seed"] for j in takes) == [5, 6]
    # Each shot's own control image is the job's input (read from the stored rows: JobOut has no inputs).
    engine = create_engine(takes_api.sqlalchemy_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT shot_id, inputs FROM jobs WHERE project_id = :p"),
                {"p": uuid.UUID(pid).hex if takes_api.backend == "sqlite" else pid},
            ).all()
    finally:
        engine.dispose()
    assert len(rows) == 4
    for shot, inputs in rows:
        items = json.loads(inputs) if isinstance(inputs, str) else inputs
        shot_key = str(uuid.UUID(str(shot)))
        assert [(i["role"], i["version_id"]) for i in items] == [("control_image", depths[shot_key])]


def test_character_references_upload_list_download_delete(takes_api: Api) -> None:
    sample = sample_shot(takes_api)
    character = sample["character"]
    base = f"/api/characters/{character['id']}/references"
    image = png_bytes(40, 30, "purple")
    made = takes_api.admin.post(base, files={"files": ("얼굴 정면.png", image, "image/png")})
    assert made.status_code == 201, made.text
    ref = made.json()
    assert (ref["width"], ref["height"], ref["mime"]) == (40, 30, "image/png") and ref[
        "name"
    ] == "얼굴 정면.png"
    again = takes_api.admin.post(
        base, files={"files": ("얼굴 정면.png", png_bytes(8, 8), "image/png")}
    ).json()
    assert again["name"] == "얼굴 정면_2.png"
    listed = takes_api.admin.get(base).json()
    assert [r["id"] for r in listed] == [ref["id"], again["id"]]
    assert takes_api.admin.get(ref["url"]).content == image
    assert takes_api.admin.delete(f"{base}/{again['id']}").status_code == 204
    assert [r["id"] for r in takes_api.admin.get(base).json()] == [ref["id"]]
    assert_problem(takes_api.admin.get(again["url"]), 404, "reference_id")

    hostile = [
        ("x\u202egnp.exe", png_bytes(), "image/png"),  # shows as x.exe.png
        ("notes.png", b"just some text, not a picture", "image/png"),
        ("anim.gif", b"GIF89a" + b"\x00" * 64, "image/gif"),
        ("broken.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "image/png"),
        ("run.png", b"MZ" + b"\x00" * 200, "image/png"),
    ]
    for name, data, mime in hostile:
        refused = takes_api.admin.post(base, files={"files": (name, data, mime)})
        assert_problem(refused, 422, "files.0")
    two = takes_api.admin.post(
        base,
        files=[
            ("files", ("a.png", png_bytes(), "image/png")),
            ("files", ("b.png", png_bytes(), "image/png")),
        ],
    )
    assert_problem(two, 422, "files.1")
    other_field = takes_api.admin.post(
        base, data={"comment": "x"}, files={"files": ("a.png", png_bytes(), "image/png")}
    )
    assert_problem(other_field, 422, "comment")
    assert_problem(takes_api.admin.post(base, json={"files": []}), 415)
    big = png_bytes() + b"\x00" * UPLOAD_LIMIT
    assert_problem(takes_api.admin.post(base, files={"files": ("big.png", big, "image/png")}), 413, "files")
    assert [r["id"] for r in takes_api.admin.get(base).json()] == [ref["id"]]  # nothing half-stored

    artist = takes_api.user("artist")
    assert artist.get(base).status_code == 200
    assert_problem(artist.post(base, files={"files": ("a.png", png_bytes(), "image/png")}), 403)
    assert_problem(artist.delete(f"{base}/{ref['id']}"), 403)
    artist.close()
    missing = f"/api/characters/{uuid.uuid4()}/references"
    assert_problem(takes_api.admin.post(missing, files={"files": ("a.png", png_bytes(), "image/png")}), 404)
