"""Render recipes: saved and versioned per project, checked against the workflow catalogue, submitted for a
shot as a job DAG whose children get their parent's published output when they are claimed; render-ready
and auto_render queue them for the ready shots."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from tests.api.test_farm import agent_client, claim, drain_queue, register
from tests.support.api import Api, assert_problem
from tests.support.media import h264_mp4, png_bytes

CHAIN = [
    {"label": "i2v", "workflow": "cpu_test_still_video"},
    {"label": "RIFE 2x", "workflow": "rife_interpolate_2x", "fps_factor": 2},
    {"label": "ESRGAN 2x", "workflow": "esrgan_upscale_video"},
]


def recipe(api: Api, project_id: str, name: str = "film", steps: list[dict[str, Any]] | None = None) -> Any:
    made = api.admin.post(f"/api/projects/{project_id}/recipes", json={"name": name, "steps": steps or CHAIN})
    assert made.status_code == 201, made.text
    return made.json()


def approved_first_frame(api: Api, shot_id: str) -> dict[str, Any]:
    previz = api.admin.post(
        f"/api/shots/{shot_id}/versions",
        data={"stage": "previz"},
        files={"files": ("frame.png", png_bytes(320, 180), "image/png")},
    )
    assert previz.status_code == 201, previz.text
    verdict = api.admin.post(f"/api/versions/{previz.json()['id']}/reviews", json={"verdict": "approve"})
    assert verdict.status_code == 201, verdict.text
    return previz.json()


def confirmed_project(api: Api, shots: int, **project: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    made = api.project(fps="24", width=640, height=360, **project)
    scene = api.scene(made["id"])
    listed = [api.shot(made["id"], scene["id"], duration_frames=12, action=f"shot {i}") for i in range(shots)]
    confirmed = api.admin.post(f"/api/projects/{made['id']}/confirm", json={})
    assert confirmed.status_code == 200, confirmed.text
    return made, listed


def jobs_of(api: Api, shot_id: str) -> list[dict[str, Any]]:
    return api.admin.get("/api/farm/jobs", params={"shot_id": shot_id, "limit": 100}).json()["items"]


def test_recipes_are_saved_versioned_listed_and_deleted_while_unused(api: Api) -> None:
    pid = api.project()["id"]
    first = recipe(api, pid)
    assert first["version"] == 1 and first["versions"] == [1] and first["used"] is False
    assert [s["output_stage"] for s in first["steps"]] == ["render", "interp", "upscale"]
    assert [(s["input_kind"], s["output_kind"]) for s in first["steps"]] == [
        ("image", "video"),
        ("video", "video"),
        ("video", "video"),
    ]
    again = api.admin.post(f"/api/projects/{pid}/recipes", json={"name": "film", "steps": CHAIN})
    assert_problem(again, 409, "name")
    encode = {"label": "encode", "job_type": "transcode", "params": {"args": ["-c:v", "libx264"]}}
    second = api.admin.put(f"/api/projects/{pid}/recipes/film", json={"steps": [*CHAIN, encode]})
    assert second.status_code == 201, second.text
    assert second.json()["version"] == 2 and second.json()["versions"] == [1, 2]
    assert second.json()["steps"][3]["output_stage"] == "final"
    old = api.admin.get(f"/api/projects/{pid}/recipes/film", params={"version": 1}).json()
    assert old["version"] == 1 and len(old["steps"]) == 3  # the old version is kept as it was
    assert len(api.admin.get(f"/api/projects/{pid}/recipes/film").json()["steps"]) == 4
    listed = api.admin.get(f"/api/projects/{pid}/recipes").json()["items"]
    assert [(r["name"], r["version"]) for r in listed] == [("film", 2)]
    assert api.admin.delete(f"/api/projects/{pid}/recipes/film").status_code == 204
    assert_problem(api.admin.get(f"/api/projects/{pid}/recipes/film"), 404, "name")


def test_a_recipe_is_refused_naming_the_step_that_does_not_fit(api: Api) -> None:
    pid = api.project()["id"]

    def refused(steps: list[dict[str, Any]], field: str) -> str:
        response = api.admin.post(f"/api/projects/{pid}/recipes", json={"name": "bad", "steps": steps})
        return assert_problem(response, 422, field)["detail"]

    unknown = refused([CHAIN[0], {"workflow": "no_such_flow"}], "steps[1].workflow")
    assert "no_such_flow" in unknown
    # An image workflow (no input) cannot follow a video step; a video workflow cannot start the chain.
    assert "takes no input" in refused([CHAIN[0], {"workflow": "flux1_dev_t2i"}], "steps[1].workflow")
    assert "takes a video" in refused([CHAIN[1]], "steps[0].workflow")
    flux = {"workflow": "flux1_dev_t2i"}
    assert "makes an image" in refused([flux, CHAIN[1]], "steps[1].workflow")
    refused([CHAIN[0], {**CHAIN[2], "fps_factor": 2}], "steps[1].fps_factor")  # ESRGAN keeps its rate
    refused([{"job_type": "transcode"}], "steps[0].job_type")
    refused([{**CHAIN[0], "params": {"no_role": 1}}], "steps[0].params")
    assert "above 8" in refused([CHAIN[0], {**CHAIN[1], "params": {"factor": 12}}], "steps[1].params.factor")
    refused([{"label": "nothing"}], "steps[0].workflow")
    assert api.admin.get(f"/api/projects/{pid}/recipes").json()["items"] == []


def test_a_recipe_for_a_shot_is_a_dag_whose_children_get_the_parent_output_when_claimed(
    api: Api, tmp_path: Path
) -> None:
    drain_queue(api)
    project, [shot] = confirmed_project(api, 1)
    frame = approved_first_frame(api, shot["id"])
    recipe(api, project["id"])
    queued = api.admin.post(f"/api/shots/{shot['id']}/render-recipe", json={"recipe": "film"})
    assert queued.status_code == 201, queued.text
    i2v_id, interp_id, upscale_id = queued.json()["job_ids"]
    jobs = {j["id"]: j for j in jobs_of(api, shot["id"])}
    assert [jobs[i]["output_stage"] for i in (i2v_id, interp_id, upscale_id)] == [
        "render",
        "interp",
        "upscale",
    ]
    assert jobs[interp_id]["depends_on"] == [i2v_id] and jobs[upscale_id]["depends_on"] == [interp_id]

    agent = agent_client(api)
    agent_id = register(agent)
    got = claim(agent, agent_id)
    assert got is not None and got["job"]["id"] == i2v_id
    assert got["job"]["inputs"][0]["version_id"] == frame["id"]  # the shot's render binding
    assert claim(agent, agent_id) is None  # the children wait for their parent
    render = finish(agent, got, h264_mp4(tmp_path / "i2v.mp4", seconds=1.0, rate="16"))
    assert render["stage"] == "render" and render["provenance"]["recipe"]["step"] == 0

    got = claim(agent, agent_id)
    assert got is not None and got["job"]["id"] == interp_id
    [source] = got["job"]["inputs"]
    movie = next(f for f in render["files"] if f["mime"].startswith("video/"))
    assert (source["url"], source["sha256"], source["version_id"]) == (
        movie["url"],
        movie["sha256"],
        render["id"],
    )
    assert agent.get(source["url"]).content == api.admin.get(movie["url"]).content  # the agent can fetch it
    node, name = source["targets"][0]
    assert got["job"]["graph"][node]["inputs"][name] == source["name"]
    assert got["job"]["params"]["fps"] == 32  # the parent's 16 fps x 2
    assert got["job"]["graph"]["4"]["inputs"]["fps"] == 32

    # The step fails; its child fails with it; retried alone, the chain goes on.
    failed = agent.post(
        f"/api/farm/jobs/{interp_id}/fail",
        json={"lease_id": got["lease"]["id"], "error": "RIFE: no model", "kind": "input"},
    )
    assert failed.status_code == 200, failed.text
    child = api.admin.get(f"/api/farm/jobs/{upscale_id}").json()
    assert child["status"] == "failed" and interp_id in child["error"]
    assert api.admin.post(f"/api/farm/jobs/{interp_id}/retry").status_code == 200
    assert api.admin.get(f"/api/farm/jobs/{upscale_id}").json()["status"] == "queued"
    got = claim(agent, agent_id)
    assert got is not None and got["job"]["id"] == interp_id
    assert got["job"]["inputs"][0]["version_id"] == render["id"]
    interp = finish(agent, got, h264_mp4(tmp_path / "interp.mp4", seconds=1.0, rate="32"))
    provenance = interp["provenance"]
    assert interp["stage"] == "interp" and interp["number"] == 1
    assert provenance["recipe"]["name"] == "film" and provenance["recipe"]["version"] == 1
    assert provenance["recipe"]["step"] == 1 and provenance["parent_job_id"] == i2v_id
    assert provenance["parent_version_id"] == render["id"] and render["id"] in provenance["input_version_ids"]

    got = claim(agent, agent_id)
    assert got is not None and got["job"]["id"] == upscale_id
    assert got["job"]["inputs"][0]["version_id"] == interp["id"]
    upscale = finish(agent, got, h264_mp4(tmp_path / "up.mp4", seconds=1.0, rate="32"))
    assert upscale["stage"] == "upscale" and upscale["provenance"]["parent_job_id"] == interp_id
    # A used recipe is kept: its versions name it.
    assert_problem(api.admin.delete(f"/api/projects/{project['id']}/recipes/film"), 409, "name")
    assert api.admin.get(f"/api/projects/{project['id']}/recipes/film").json()["used"] is True


def finish(agent: httpx.Client, got: dict[str, Any], clip: Path) -> dict[str, Any]:
    """Upload `clip` as the claimed job's output, complete it; the version it became."""
    job_id, lease_id = got["job"]["id"], got["lease"]["id"]
    uploaded = agent.post(
        f"/api/farm/jobs/{job_id}/outputs",
        data={"lease_id": lease_id},
        files={"files": ("out_00001.mp4", clip.read_bytes(), "video/mp4")},
    )
    assert uploaded.status_code == 200, uploaded.text
    done = agent.post(f"/api/farm/jobs/{job_id}/complete", json={"lease_id": lease_id, "gpu_seconds": 1.0})
    assert done.status_code == 200, done.text
    version = agent.get(f"/api/versions/{done.json()['version_id']}")
    assert version.status_code == 200, version.text
    return version.json()


def test_render_ready_queues_the_ready_shots_once_and_says_why_the_others_wait(api: Api) -> None:
    project, shots = confirmed_project(api, 5)
    pid = project["id"]
    ready, no_frame, omitted, rendered, selected = shots
    for shot in (ready, omitted, rendered, selected):
        approved_first_frame(api, shot["id"])
    state = api.admin.get(f"/api/shots/{omitted['id']}").json()
    moved = api.admin.patch(
        f"/api/shots/{omitted['id']}", json={"status": "omitted", "revision": state["revision"]}
    )
    assert moved.status_code == 200, moved.text
    clip = h264_mp4(Path(api.data_dir or ".") / f"{uuid.uuid4().hex}.mp4", seconds=0.5)
    published = api.admin.post(
        f"/api/shots/{rendered['id']}/versions",
        data={"stage": "render"},
        files={"files": ("render.mp4", clip.read_bytes(), "video/mp4")},
    )
    assert published.status_code == 201, published.text

    nothing = api.admin.post(f"/api/projects/{pid}/render-ready", json={"recipe": None, "shot_ids": None})
    assert nothing.status_code == 201, nothing.text
    assert nothing.json()["queued"] == []
    assert {s["reason"] for s in nothing.json()["skipped"] if s["shot_id"] == ready["id"]} == {
        "no recipe chosen (set the shot's or the project's render_recipe)"
    }

    recipe(api, pid)
    only = api.admin.post(
        f"/api/projects/{pid}/render-ready",
        json={"recipe": "film", "shot_ids": [selected["id"], str(uuid.uuid4())]},
    ).json()
    assert [q["shot_code"] for q in only["queued"]] == [selected["code"]]
    assert [s["reason"] for s in only["skipped"]] == ["no such shot in this project"]
    assert len(only["queued"][0]["job_ids"]) == 3

    current = api.admin.get(f"/api/projects/{pid}").json()
    api.admin.patch(f"/api/projects/{pid}", json={"render_recipe": "film", "revision": current["revision"]})
    body = api.admin.post(f"/api/projects/{pid}/render-ready", json={"recipe": None, "shot_ids": None})
    assert body.status_code == 201, body.text
    out = body.json()
    assert [(q["shot_code"], q["recipe"]) for q in out["queued"]] == [(ready["code"], "film")]
    reasons = {s["shot_code"]: s["reason"] for s in out["skipped"]}
    assert reasons[no_frame["code"]] == "no approved first frame"
    assert reasons[omitted["code"]] == "the shot is omitted"
    assert reasons[rendered["code"]] == "it has a render (render v001)"
    assert reasons[selected["code"]].startswith("a render is already queued or running")
    assert {j["id"] for j in jobs_of(api, ready["id"])} == set(out["queued"][0]["job_ids"])
    # Idempotent: nothing new the second time.
    again = api.admin.post(f"/api/projects/{pid}/render-ready", json={"recipe": None, "shot_ids": None})
    assert again.json()["queued"] == []
    assert len(jobs_of(api, ready["id"])) == 3
    for job in api.admin.get("/api/farm/jobs", params={"project_id": pid, "limit": 100}).json()["items"]:
        api.admin.post(f"/api/farm/jobs/{job['id']}/cancel")


def test_render_ready_waits_for_the_project_to_be_confirmed(api: Api) -> None:
    made = api.project()
    shot = api.shot(made["id"], api.scene(made["id"])["id"])
    recipe(api, made["id"])
    approved_first_frame(api, shot["id"])
    out = api.admin.post(f"/api/projects/{made['id']}/render-ready", json={"recipe": "film"}).json()
    assert out == {
        "queued": [],
        "skipped": [
            {"shot_id": shot["id"], "shot_code": shot["code"], "reason": "the project is not confirmed yet"}
        ],
    }
    missing = api.admin.post(f"/api/projects/{made['id']}/render-ready", json={"recipe": "nope"})
    assert_problem(missing, 404, "recipe")


def test_auto_render_queues_the_recipe_when_a_first_frame_is_approved(api: Api) -> None:
    project, [shot, other] = confirmed_project(api, 2)
    pid = project["id"]
    recipe(api, pid)
    patched = api.admin.patch(
        f"/api/projects/{pid}",
        json={"auto_render": True, "render_recipe": "film", "revision": project["revision"] + 1},
    )
    assert patched.status_code == 200, patched.text
    assert api.admin.get(f"/api/projects/{pid}").json()["auto_render"] is True
    assert_problem(api.admin.patch(f"/api/projects/{pid}", json={"auto_render": None}), 422, "auto_render")
    assert jobs_of(api, shot["id"]) == []
    approved_first_frame(api, shot["id"])
    made = jobs_of(api, shot["id"])
    assert sorted(j["output_stage"] for j in made) == ["interp", "render", "upscale"]
    approved_first_frame(api, shot["id"])  # another approval: the shot's render is queued already
    assert len(jobs_of(api, shot["id"])) == 3
    # Use-as-first-frame approves too.
    take = api.admin.post(
        f"/api/shots/{other['id']}/versions",
        data={"stage": "previz"},
        files={"files": ("take.png", png_bytes(320, 180, "blue"), "image/png")},
    ).json()
    used = api.admin.post(f"/api/versions/{take['id']}/use-as-first-frame", json={})
    assert used.status_code == 200, used.text
    assert len(jobs_of(api, other["id"])) == 3
    for job in api.admin.get("/api/farm/jobs", params={"project_id": pid, "limit": 100}).json()["items"]:
        api.admin.post(f"/api/farm/jobs/{job['id']}/cancel")


def test_a_shot_chooses_its_recipe_over_the_project_default(api: Api) -> None:
    project, [shot] = confirmed_project(api, 1)
    pid = project["id"]
    approved_first_frame(api, shot["id"])
    recipe(api, pid, "film")
    recipe(api, pid, "quick", [CHAIN[0]])
    current = api.admin.get(f"/api/projects/{pid}").json()
    api.admin.patch(f"/api/projects/{pid}", json={"render_recipe": "film", "revision": current["revision"]})
    state = api.admin.get(f"/api/shots/{shot['id']}").json()
    patched = api.admin.patch(
        f"/api/shots/{shot['id']}", json={"render_recipe": "quick", "revision": state["revision"]}
    )
    assert patched.status_code == 200 and patched.json()["render_recipe"] == "quick", patched.text
    queued = api.admin.post(f"/api/shots/{shot['id']}/render-recipe", json={}).json()
    assert queued["recipe"] == "quick" and len(queued["job_ids"]) == 1
    state = api.admin.get(f"/api/shots/{shot['id']}").json()
    api.admin.patch(f"/api/shots/{shot['id']}", json={"render_recipe": "gone", "revision": state["revision"]})
    refused = api.admin.post(f"/api/shots/{shot['id']}/render-recipe", json={})
    assert_problem(refused, 404, "shot.render_recipe")
    for job in api.admin.get("/api/farm/jobs", params={"project_id": pid, "limit": 100}).json()["items"]:
        api.admin.post(f"/api/farm/jobs/{job['id']}/cancel")


def test_two_render_ready_calls_at_once_queue_each_shot_once(api: Api) -> None:
    project, shots = confirmed_project(api, 3)
    pid = project["id"]
    for shot in shots:
        approved_first_frame(api, shot["id"])
    recipe(api, pid)
    clients = [api.client(), api.client()]
    with ThreadPoolExecutor(2) as pool:
        answers = list(
            pool.map(lambda c: c.post(f"/api/projects/{pid}/render-ready", json={"recipe": "film"}), clients)
        )
    assert [a.status_code for a in answers] == [201, 201], [a.text for a in answers]
    queued = [q["shot_code"] for a in answers for q in a.json()["queued"]]
    assert sorted(queued) == sorted(s["code"] for s in shots)  # each shot by one of the two calls
    for shot in shots:
        assert len(jobs_of(api, shot["id"])) == 3
    for client in clients:
        client.close()
    for job in api.admin.get("/api/farm/jobs", params={"project_id": pid, "limit": 100}).json()["items"]:
        api.admin.post(f"/api/farm/jobs/{job['id']}/cancel")


def test_an_encode_step_gets_the_parent_file_as_its_ffmpeg_input(api: Api, tmp_path: Path) -> None:
    drain_queue(api)
    project, [shot] = confirmed_project(api, 1)
    approved_first_frame(api, shot["id"])
    encode = {"label": "encode", "job_type": "transcode", "params": {"args": ["-c:v", "libx264"]}}
    recipe(api, project["id"], "encode", [CHAIN[0], encode])
    queued = api.admin.post(f"/api/shots/{shot['id']}/render-recipe", json={"recipe": "encode"}).json()
    i2v_id, encode_id = queued["job_ids"]
    agent = agent_client(api)
    agent_id = register(agent)
    got = claim(agent, agent_id)
    assert got is not None and got["job"]["id"] == i2v_id
    render = finish(agent, got, h264_mp4(tmp_path / "i2v.mp4", seconds=0.5))
    got = claim(agent, agent_id)
    assert got is not None and got["job"]["id"] == encode_id and got["job"]["type"] == "transcode"
    movie = next(f for f in render["files"] if f["mime"].startswith("video/"))
    params = got["job"]["params"]
    assert (params["input_url"], params["input_sha256"]) == (movie["url"], movie["sha256"])
    assert params["args"] == ["-c:v", "libx264"] and params["output_name"] == f"{shot['code']}_final.mp4"
    final = finish(agent, got, h264_mp4(tmp_path / "final.mp4", seconds=0.5))
    assert final["stage"] == "final" and final["provenance"]["parent_version_id"] == render["id"]
