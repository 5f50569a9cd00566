"""`aipipe takes generate|list|use|redo` as a user runs them: a real subprocess against a real server."""

from __future__ import annotations

import json
from pathlib import Path

from tests.api.takes_support import publish, sample_shot, takes_api
from tests.support.api import Api
from tests.support.cli import aipipe, api_key, cli_env
from tests.support.media import png_bytes

__all__ = ["takes_api"]


def test_takes_from_the_command_line(takes_api: Api, tmp_path: Path) -> None:
    sample = sample_shot(takes_api)
    project, shot, take = sample["project"], sample["shot"], sample["take"]
    second = takes_api.shot(project["id"], sample["scene"]["id"])
    env = cli_env(tmp_path, takes_api.base_url, api_key(takes_api, "director"))

    one = aipipe(
        "takes",
        "generate",
        shot["code"],
        "-p",
        project["code"],
        "-n",
        "2",
        "--seed",
        "7",
        "--increment",
        "--json",
        env=env,
    )
    assert one.returncode == 0, one.stderr
    assert [j["seed"] for j in json.loads(one.stdout)["jobs"]] == [7, 8]

    batch = aipipe(
        "takes", "generate", "--all", "-p", project["code"], "-n", "3", "--param", "steps=12", env=env
    )
    assert batch.returncode == 0, batch.stderr
    assert "Queued 6 take(s) for 2 shot(s)." in batch.stdout
    queued = takes_api.admin.get("/api/farm/jobs", params={"shot_id": second["id"]}).json()["items"]
    assert len(queued) == 3 and {j["params"]["steps"] for j in queued} == {12}

    refine_args = ["--operation", "refine", "--source", take["id"], "--denoise", "0.3", "--json"]
    refine = aipipe("takes", "generate", shot["id"], *refine_args, env=env)
    assert refine.returncode == 0, refine.stderr

    other = publish(takes_api.admin, shot["id"], "previz", png_bytes(64, 64, "green"))
    used = aipipe("takes", "use", other["id"], "--note", "이게 좋다", env=env)
    assert used.returncode == 0, used.stderr
    listed = aipipe("takes", "list", shot["code"], "-p", project["code"], "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    items = json.loads(listed.stdout)["items"]
    assert [i["version"]["id"] for i in items if i["is_first_frame"]] == [other["id"]]
    table = aipipe("takes", "list", shot["code"], "-p", project["code"], env=env)
    assert "2 take(s)." in table.stdout and "yes" in table.stdout

    refused = aipipe(
        "takes", "generate", shot["id"], "--operation", "inpaint", "--source", take["id"], env=env
    )
    assert refused.returncode == 1 and "mask" in refused.stderr
    missing = aipipe("takes", "list", "SHT_9990", "-p", project["code"], env=env)
    assert missing.returncode == 1 and "No shot 'SHT_9990'" in missing.stderr
    redo_plain = aipipe("takes", "redo", other["id"], env=env)
    assert redo_plain.returncode == 1 and "not made by a workflow" in redo_plain.stderr


def test_takes_with_a_recipe_from_the_command_line(takes_api: Api, tmp_path: Path) -> None:
    sample = sample_shot(takes_api)
    project, shot = sample["project"], sample["shot"]
    takes_api.shot(project["id"], sample["scene"]["id"])
    steps = [
        {"label": "t2i", "workflow": "flux1_dev_t2i"},
        {"label": "refine", "workflow": "flux1_dev_i2i", "params": {"denoise": 0.4}},
    ]
    made = takes_api.admin.post(
        f"/api/projects/{project['id']}/recipes", json={"name": "look", "steps": steps}
    )
    assert made.status_code == 201, made.text
    env = cli_env(tmp_path, takes_api.base_url, api_key(takes_api, "director"))
    base = ["takes", "generate", "-p", project["code"], "--recipe", "look"]

    one = aipipe(*base, shot["code"], "-n", "2", "--seed", "5", "--increment", "--json", env=env)
    assert one.returncode == 0, one.stderr
    jobs = json.loads(one.stdout)["jobs"]
    assert [j["seed"] for j in jobs] == [5, 6]
    for item in jobs:
        first_id, last_id = item["chain"]
        assert first_id == item["id"]
        last = takes_api.admin.get(f"/api/farm/jobs/{last_id}").json()
        assert last["workflow"] == "flux1_dev_i2i" and last["depends_on"] == [first_id]
        assert last["params"]["denoise"] == 0.4 and last["params"]["seed"] == item["seed"]

    batch = aipipe(*base, "--all", "--recipe-version", "1", env=env)
    assert batch.returncode == 0, batch.stderr
    assert "Queued 2 take(s) for 2 shot(s)." in batch.stdout

    missing = aipipe("takes", "generate", shot["code"], "-p", project["code"], "--recipe", "nope", env=env)
    assert missing.returncode == 1 and "nope" in missing.stderr
    both = aipipe(*base, shot["code"], "--workflow", "flux1_dev_t2i", env=env)
    assert both.returncode == 1 and "not both" in both.stderr
