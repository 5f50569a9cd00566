"""Takes made with a project render recipe (SQLite and PostgreSQL): each candidate is the recipe's chain,
its first step bound as a take's text-to-image is (prompt engine, LoRAs, size, the candidate's seed), the
following steps recipe children of it; recipes a take cannot start with are refused naming `recipe`."""

from __future__ import annotations

from typing import Any

from tests.api.takes_support import publish, queue, queued, sample_shot, takes_api
from tests.support.api import Api, assert_problem

__all__ = ["takes_api"]

LOOK = [
    {"label": "t2i", "workflow": "flux1_dev_t2i", "params": {"steps": 8}},
    {"label": "refine", "workflow": "flux1_dev_i2i", "params": {"denoise": 0.35}},
]


def recipe(api: Api, pid: str, name: str, steps: list[dict[str, Any]]) -> dict[str, Any]:
    made = api.admin.put(f"/api/projects/{pid}/recipes/{name}", json={"steps": steps})
    assert made.status_code in (200, 201), made.text
    return made.json()


def job(api: Api, job_id: str) -> dict[str, Any]:
    return api.admin.get(f"/api/farm/jobs/{job_id}").json()


def test_a_recipe_take_queues_its_chain_per_candidate(takes_api: Api) -> None:
    sample = sample_shot(takes_api)
    pid, shot = sample["project"]["id"], sample["shot"]
    look = recipe(takes_api, pid, "look", LOOK)
    jobs = queued(takes_api, shot["id"], recipe="look", candidates=2, seed=100, seeds="increment")
    assert len(jobs) == 4
    firsts = [j for j in jobs if j["workflow"] == "flux1_dev_t2i"]
    children = [j for j in jobs if j["workflow"] == "flux1_dev_i2i"]
    assert [j["params"]["seed"] for j in firsts] == [100, 101]
    for first in firsts:
        params = first["params"]
        # bound as a take's t2i: the prompt engine (trigger word, environment, preset), LoRA, project size
        assert "rina_v1" in params["positive"] and "narrow alley" in params["positive"].lower()
        assert "50mm lens" in params["positive"]
        assert params["loras"] == [{"name": "rina_v1.safetensors", "strength": 0.8}]
        assert abs(params["width"] / params["height"] - 16 / 9) < 0.05
        assert params["steps"] == 8  # the recipe's own value
        assert first["output_stage"] == "previz" and first["type"] == "t2i"
        take = first["take"]
        assert take["recipe"] == "look" and take["candidate"] in (1, 2)
        assert take["seed_used"] == params["seed"]
        assert take["provenance"]["recipe"] == {
            "id": look["id"],
            "name": "look",
            "version": 1,
            "step": 0,
            "steps": 2,
            "label": "t2i",
        }
        assert take["provenance"]["take_role"] == "step"
        assert job(takes_api, first["id"])["depends_on"] == []
    assert len(children) == 2
    for child in children:
        [parent] = [f for f in firsts if f["id"] == child["take"]["parent_input"]["job_id"]]
        stored = job(takes_api, child["id"])
        assert stored["depends_on"] == [parent["id"]] and stored["status"] == "queued"
        assert child["type"] == "i2i" and child["output_stage"] == "previz"
        # the candidate's seed and the take's prompt go on; the recipe's step values are kept
        assert child["params"]["seed"] == parent["params"]["seed"]
        assert child["params"]["positive"] == parent["params"]["positive"]
        assert child["params"]["denoise"] == 0.35
        assert [i["role"] for i in child["inputs"]] == ["image"] and child["inputs"][0]["url"] == ""
        provenance = child["take"]["provenance"]
        assert provenance["recipe"]["name"] == "look" and provenance["recipe"]["version"] == 1
        assert provenance["recipe"]["step"] == 1 and provenance["parent_job_id"] == parent["id"]
        assert provenance["take_role"] == "take" and provenance["take_first_job_id"] == parent["id"]
        # the last step's job holds the take request (what a redo repeats)
        assert child["take"]["candidate"] == parent["take"]["candidate"]
        assert child["take"]["seed_used"] == parent["params"]["seed"]

    # A named version of the recipe is the one chained; the request's params win over the recipe's.
    recipe(takes_api, pid, "look", [{**LOOK[0], "params": {"steps": 20}}, LOOK[1]])
    newest = queued(takes_api, shot["id"], recipe="look")
    assert {j["params"].get("steps") for j in newest if j["type"] == "t2i"} == {20}
    older = queued(takes_api, shot["id"], recipe="look", recipe_version=1, params={"cfg": 2.5})
    [first] = [j for j in older if j["type"] == "t2i"]
    assert first["params"]["steps"] == 8 and first["params"]["cfg"] == 2.5
    assert first["take"]["provenance"]["recipe"]["version"] == 1


def test_a_batch_with_a_recipe_chains_every_candidate(takes_api: Api) -> None:
    sample = sample_shot(takes_api)
    pid, shot_id = sample["project"]["id"], sample["shot"]["id"]
    second = takes_api.shot(pid, sample["scene"]["id"])
    recipe(takes_api, pid, "look", LOOK)
    response = takes_api.admin.post(
        f"/api/projects/{pid}/takes",
        json={
            "shots": [shot_id, second["id"]],
            "recipe": "look",
            "candidates": 2,
            "seed": 7,
            "seeds": "increment",
        },
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["count"] == 4 and len(body["jobs"]) == 4
    for item in body["jobs"]:
        first_id, last_id = item["chain"]
        assert first_id == item["id"]
        first, last = job(takes_api, first_id), job(takes_api, last_id)
        assert first["workflow"] == "flux1_dev_t2i" and first["params"]["seed"] == item["seed"]
        assert last["workflow"] == "flux1_dev_i2i" and last["depends_on"] == [first_id]
        assert last["shot_id"] == item["shot_id"] and last["params"]["seed"] == item["seed"]
    seeds = sorted(j["seed"] for j in body["jobs"] if j["shot_id"] == second["id"])
    assert seeds == [7, 8]
    listed = takes_api.admin.get(
        "/api/farm/jobs", params={"project_id": pid, "status": "queued", "limit": 1}
    ).json()
    assert listed["total"] == 8  # 2 shots x 2 candidates x 2 steps

    plain = takes_api.admin.post(f"/api/projects/{pid}/takes", json={"shots": [shot_id]})
    assert plain.status_code == 202 and plain.json()["jobs"][0]["chain"] == []
    missing = takes_api.admin.post(f"/api/projects/{pid}/takes", json={"shots": [shot_id], "recipe": "nope"})
    assert_problem(missing, 404, "recipe")


def test_recipes_a_take_cannot_start_with_are_refused_naming_recipe(takes_api: Api) -> None:
    sample = sample_shot(takes_api)
    pid, shot_id = sample["project"]["id"], sample["shot"]["id"]
    recipe(takes_api, pid, "look", LOOK)
    recipe(takes_api, pid, "film", [{"label": "i2v", "workflow": "ltxv095_i2v"}])
    recipe(takes_api, pid, "moving", [LOOK[0], {"label": "i2v", "workflow": "ltxv095_i2v"}])
    before = takes_api.admin.get("/api/farm/jobs", params={"project_id": pid, "limit": 1}).json()["total"]

    video = queue(takes_api, shot_id, recipe="film")
    assert_problem(video, 422, "recipe")
    assert "ltxv095_i2v" in video.json()["detail"] and "text-to-image" in video.json()["detail"]
    ends_in_video = queue(takes_api, shot_id, recipe="moving")
    assert_problem(ends_in_video, 422, "recipe")
    assert "step 2" in ends_in_video.json()["detail"]
    unknown = queue(takes_api, shot_id, recipe="nope")
    assert_problem(unknown, 404, "recipe")
    assert "nope" in unknown.json()["detail"]
    assert_problem(queue(takes_api, shot_id, recipe="look", recipe_version=9), 404, "recipe")
    both = queue(takes_api, shot_id, recipe="look", workflow="flux1_dev_t2i")
    assert_problem(both, 422, "recipe")
    refine = queue(
        takes_api, shot_id, recipe="look", operation="refine", source_version_id=sample["take"]["id"]
    )
    assert_problem(refine, 422, "recipe")
    batch = takes_api.admin.post(f"/api/projects/{pid}/takes", json={"shots": [shot_id], "recipe": "film"})
    assert_problem(batch, 422, "recipe")
    after = takes_api.admin.get("/api/farm/jobs", params={"project_id": pid, "limit": 1}).json()["total"]
    assert after == before  # refused requests queue nothing


def test_the_takes_listed_are_the_chains_last_images(takes_api: Api) -> None:
    """A chain's step on the way (take_role "step") is not a take; its last image is, whatever stage the
    recipe publishes it as (here an `upscale` step)."""
    sample = sample_shot(takes_api)
    shot_id = sample["shot"]["id"]
    step = publish(
        takes_api.admin, shot_id, "previz", provenance={"take_role": "step", "recipe": {"step": 0}}
    )
    last = publish(
        takes_api.admin, shot_id, "upscale", provenance={"take_role": "take", "recipe": {"step": 1}}
    )
    publish(takes_api.admin, shot_id, "upscale")  # an upscale that is no take
    listed = takes_api.admin.get(f"/api/shots/{shot_id}/takes").json()["items"]
    assert {t["version"]["id"] for t in listed} == {sample["take"]["id"], last["id"]}
    refused = takes_api.admin.post(f"/api/versions/{step['id']}/use-as-first-frame", json={})
    assert_problem(refused, 409, "version_id")


def test_a_recipe_take_waiting_on_the_farm_is_no_render_of_the_shot(takes_api: Api) -> None:
    """render-ready skips a shot whose render recipe is queued or running, not one with takes being made
    with a recipe."""
    sample = sample_shot(takes_api)
    pid, shot_id = sample["project"]["id"], sample["shot"]["id"]
    confirmed = takes_api.admin.post(f"/api/projects/{pid}/confirm", json={})
    assert confirmed.status_code == 200, confirmed.text
    used = takes_api.admin.post(f"/api/versions/{sample['take']['id']}/use-as-first-frame", json={})
    assert used.status_code == 200, used.text
    recipe(takes_api, pid, "look", LOOK)
    recipe(takes_api, pid, "film", [{"label": "i2v", "workflow": "ltxv095_i2v"}])
    assert len(queued(takes_api, shot_id, recipe="look", candidates=2)) == 4
    ready = takes_api.admin.post(
        f"/api/projects/{pid}/render-ready", json={"recipe": "film", "shot_ids": [shot_id]}
    )
    assert ready.status_code == 201, ready.text
    assert [q["shot_id"] for q in ready.json()["queued"]] == [shot_id], ready.json()
    again = takes_api.admin.post(
        f"/api/projects/{pid}/render-ready", json={"recipe": "film", "shot_ids": [shot_id]}
    ).json()
    assert again["queued"] == [] and again["skipped"][0]["reason"].startswith("a render is already queued")
