"""`aipipe breakdown FILE --project P` as a subprocess against a real server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.api import Api

DATA = Path(__file__).resolve().parents[1] / "data" / "breakdown"


def _cli(api: Api, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    key = api.admin.post("/api/api-keys", json={"name": "breakdown-cli", "role": "editor"})
    assert key.status_code == 201, key.text
    env = {
        **os.environ,
        "AIPIPE_SERVER_URL": api.base_url,
        "AIPIPE_API_KEY": key.json()["key"],
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-m", "sync_server", "breakdown", *args],
        capture_output=True,
        text=True,
        env=env,
        input=stdin,
        timeout=60,
        check=False,
    )


def test_the_cli_shows_the_draft_and_applies_it_only_when_asked(api: Api) -> None:
    project = api.project(fps="24")
    script = str(DATA / "night_alley_ko.txt")

    shown = _cli(api, script, "--project", project["code"])
    assert shown.returncode == 0, shown.stderr
    assert "korean via parser" in shown.stdout and "SHT-001-04" in shown.stdout
    assert "Draft saved" in shown.stderr  # a status line, not the command's output
    assert api.admin.get(f"/api/projects/{project['id']}/shots").json()["total"] == 0

    declined = _cli(api, script, "--project", project["code"], "--apply", stdin="n\n")
    assert declined.returncode == 0 and "Not applied" in declined.stderr
    assert api.admin.get(f"/api/projects/{project['id']}/shots").json()["total"] == 0

    # No answer at all (a script, stdin closed): not applied, and the message says how to apply unasked.
    unanswered = _cli(api, script, "--project", project["code"], "--apply", stdin="")
    assert unanswered.returncode == 0, unanswered.stderr
    assert "Not applied" in unanswered.stderr and "--yes" in unanswered.stderr, unanswered.stderr
    assert api.admin.get(f"/api/projects/{project['id']}/shots").json()["total"] == 0

    applied = _cli(api, script, "--project", project["id"], "--apply", "--yes")
    assert applied.returncode == 0, applied.stderr
    assert "Applied: 2 scenes, 6 shots, 2 new and 0 merged characters" in applied.stdout
    assert api.admin.get(f"/api/projects/{project['id']}/shots").json()["total"] == 6
    drafts = api.admin.get(f"/api/projects/{project['id']}/breakdowns").json()["items"]
    assert sorted(d["status"] for d in drafts) == ["applied", "draft", "draft", "draft"]


def test_cli_refusals_name_the_file_or_the_field(api: Api, tmp_path: Path) -> None:
    project = api.project()
    missing = _cli(api, str(tmp_path / "nope.fountain"), "--project", project["code"])
    assert missing.returncode == 1 and "nope.fountain: no such file" in missing.stderr
    latin1 = tmp_path / "old.txt"
    latin1.write_bytes("S#1. café - nuit\n\nRina marche.\n".encode("latin-1"))
    bad = _cli(api, str(latin1), "--project", project["code"])
    assert bad.returncode == 1 and "not UTF-8" in bad.stderr
    prose = _cli(api, str(DATA / "rooftop_prose.txt"), "--project", project["code"], "--engine", "parser")
    assert prose.returncode == 1 and "engine" in prose.stderr and "422" in prose.stderr
    unknown = _cli(api, str(DATA / "night_alley.fountain"), "--project", "NO_SUCH_PROJECT")
    assert unknown.returncode == 1 and "No project with code 'NO_SUCH_PROJECT'" in unknown.stderr


def test_json_prints_only_the_draft_on_stdout(api: Api) -> None:
    project = api.project(fps="24")
    script = str(DATA / "night_alley_ko.txt")
    shown = _cli(api, script, "--project", project["code"], "--json")
    assert shown.returncode == 0, shown.stderr
    draft = json.loads(shown.stdout)  # nothing else on stdout (the "Draft saved" line goes to stderr)
    assert draft["source_format"] == "korean" and len(draft["content"]["shots"]) == 6
    assert "Draft saved" in shown.stderr
    applied = _cli(api, script, "--project", project["code"], "--apply", "--yes", "--json")
    assert applied.returncode == 0, applied.stderr
    both = json.loads(applied.stdout)
    assert both["draft"]["id"] == both["applied"]["id"] and len(both["applied"]["result"]["shots"]) == 6
