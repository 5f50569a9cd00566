"""`aipipe dailies make|list` against the real server, as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.api import Api
from tests.support.cli import aipipe, api_key, cli_env
from tests.support.media import png_bytes


def test_dailies_make_and_list_from_the_command_line(api: Api, tmp_path: Path) -> None:
    project = api.project(name="데일리 CLI")
    scene = api.scene(project["id"])
    shot = api.shot(project["id"], scene["id"])
    made = api.admin.post(
        f"/api/shots/{shot['id']}/versions",
        data={"stage": "previz"},
        files={"files": ("p.png", png_bytes(), "image/png")},
    )
    assert made.status_code == 201, made.text
    env = cli_env(tmp_path / "config", api.base_url, api_key(api, "artist"))
    code = project["code"]

    queued = aipipe("dailies", "make", code, "--json", env=env)
    assert queued.returncode == 0, queued.stderr
    dailies = json.loads(queued.stdout)
    try:
        assert dailies["trigger"] == "manual" and dailies["versions"] == 1 and dailies["status"] == "queued"
        assert [c["version_id"] for c in dailies["clips"]] == [made.json()["id"]]
        assert "1 versions" in queued.stderr

        listed = aipipe("dailies", "list", code, env=env)
        assert listed.returncode == 0, listed.stderr
        assert dailies["day"] in listed.stdout and "manual" in listed.stdout and "v001" in listed.stdout

        empty = aipipe("dailies", "make", code, "--date", "2001-02-03", env=env)
        assert (
            empty.returncode == 1 and "No versions were made" in empty.stderr and "2001-02-03" in empty.stderr
        )
    finally:
        # No agent of this shared server should pick it up later.
        api.admin.post(f"/api/farm/jobs/{dailies['job_id']}/cancel")
    gone = api.admin.get(f"/api/dailies/{dailies['id']}").json()
    assert gone["status"] == "failed" and "cancelled" in gone["error"]
