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
