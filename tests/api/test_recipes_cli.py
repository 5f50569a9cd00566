"""`aipipe recipes create|list|show|render-ready` as a user runs them: a real subprocess against a real
server."""

from __future__ import annotations

import json
from pathlib import Path

from tests.api.test_recipes import approved_first_frame, confirmed_project
from tests.support.api import Api
from tests.support.cli import aipipe, api_key, cli_env


def test_recipes_from_the_command_line(api: Api, tmp_path: Path) -> None:
    project, [ready, waiting] = confirmed_project(api, 2)
    approved_first_frame(api, ready["id"])
    env = cli_env(tmp_path, api.base_url, api_key(api, "director"))
    code = project["code"]

    made = aipipe(
        "recipes", "create", "film", "-p", code,
        "--step", "cpu_test_still_video", "--step", "rife_interpolate_2x", "--step", "esrgan_upscale_video",
        env=env,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert (
        "Saved recipe film v1: cpu_test_still_video -> rife_interpolate_2x -> esrgan_upscale_video"
        in made.stdout
    )
    recipe_file = tmp_path / "film.json"
    steps = [{"workflow": "cpu_test_still_video"}, {"workflow": "rife_interpolate_2x", "fps_factor": 2}]
    recipe_file.write_text(json.dumps({"description": "preview quality", "steps": steps}), "utf-8")
    again = aipipe("recipes", "create", "film", "-p", code, "--file", str(recipe_file), "--json", env=env)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["version"] == 2
    bad = aipipe("recipes", "create", "bad", "-p", code, "--step", "no_such_flow", env=env)
    assert bad.returncode == 1 and "no_such_flow" in bad.stderr

    listed = aipipe("recipes", "list", "-p", code, env=env)
    assert listed.returncode == 0, listed.stderr
    assert "film" in listed.stdout and "v2" in listed.stdout and "1 recipe(s)." in listed.stdout
    shown = aipipe("recipes", "show", "film", "-p", code, "--version", "1", env=env)
    assert shown.returncode == 0, shown.stderr
    assert "film v1 (versions: v1, v2)" in shown.stdout and "upscale" in shown.stdout

    ran = aipipe("recipes", "render-ready", "-p", code, "--recipe", "film", env=env)
    assert ran.returncode == 0, ran.stderr
    assert ready["code"] in ran.stdout and "no approved first frame" in ran.stdout
    assert "Queued 1 shot(s); 1 not ready." in ran.stdout
    selected = aipipe(
        "recipes", "render-ready", waiting["code"], "-p", code, "--recipe", "film", "--json", env=env
    )
    assert selected.returncode == 0, selected.stderr
    answer = json.loads(selected.stdout)
    assert answer["queued"] == [] and [s["shot_code"] for s in answer["skipped"]] == [waiting["code"]]
    for job in api.admin.get("/api/farm/jobs", params={"project_id": project["id"]}).json()["items"]:
        api.admin.post(f"/api/farm/jobs/{job['id']}/cancel")
