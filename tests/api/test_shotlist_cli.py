"""`aipipe shots export|import` against a real server: the file, the diff it shows, what it applies."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from tests.support.api import Api


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sync_server", "shots", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.fixture
def setup(api: Api, tmp_path: Path) -> dict[str, Any]:
    if api.backend != "sqlite":
        pytest.skip("the CLI speaks only HTTP; one backend is enough")
    key = api.admin.post("/api/api-keys", json={"name": "producer-cli", "role": "editor"})
    assert key.status_code == 201, key.text
    project = api.project()
    scene = api.scene(project["id"])
    shots = [api.shot(project["id"], scene["id"], description=f"shot {i}") for i in range(3)]
    env = {
        **os.environ,
        "AIPIPE_SERVER_URL": api.base_url,
        "AIPIPE_API_KEY": key.json()["key"],
        "XDG_CONFIG_HOME": str(tmp_path / "config"),  # no saved login of the user running the tests
    }
    return {"env": env, "project": project, "shots": shots}


def test_export_edit_preview_and_apply_from_the_command_line(
    api: Api, setup: dict[str, Any], tmp_path: Path
) -> None:
    env, code = setup["env"], setup["project"]["code"]
    done = cli(env, "export", "--project", code, "--output", str(tmp_path))
    assert done.returncode == 0, done.stderr
    [exported] = list(tmp_path.glob("*.xlsx"))
    assert exported.name.startswith(f"{code}_shots_") and "3 rows" in done.stdout
    book = openpyxl.load_workbook(exported)
    sheet = book["Shots"]
    header = [c.value for c in sheet[1]]
    sheet.cell(row=3, column=header.index("Description") + 1, value="changed from the CLI")
    edited = tmp_path / "edited.xlsx"
    book.save(edited)

    shown = cli(env, "import", str(edited), "--project", code)
    assert shown.returncode == 0, shown.stderr
    assert "changed from the CLI" in shown.stdout and "Nothing applied" in shown.stderr
    second = setup["shots"][1]
    assert api.admin.get(f"/api/shots/{second['id']}").json()["description"] == "shot 1"

    applied = cli(env, "import", str(edited), "--project", code, "--apply")
    assert applied.returncode == 0, applied.stderr
    assert "1 updated" in applied.stdout
    assert api.admin.get(f"/api/shots/{second['id']}").json()["description"] == "changed from the CLI"


def test_a_broken_file_is_refused_with_row_and_column(
    api: Api, setup: dict[str, Any], tmp_path: Path
) -> None:
    env, code = setup["env"], setup["project"]["code"]
    bad = tmp_path / "bad.csv"
    bad.write_text("Shot,Duration (frames)\nSHT_9990,soon\n", encoding="utf-8")
    done = cli(env, "import", str(bad), "--project", code, "--apply")
    assert done.returncode == 1
    assert "row 2" in done.stdout and "Duration (frames)" in done.stdout and "whole number" in done.stdout
    assert "nothing can be applied" in done.stderr
    missing = cli({**env, "AIPIPE_API_KEY": ""}, "export", "--project", code)
    assert missing.returncode == 2 and "aipipe login" in missing.stderr and "AIPIPE_API_KEY" in missing.stderr


def test_import_json_prints_only_the_preview_on_stdout(setup: dict[str, Any], tmp_path: Path) -> None:
    env, code = setup["env"], setup["project"]["code"]
    edited = tmp_path / "edited.csv"
    assert cli(env, "export", "--project", code, "--format", "csv", "--output", str(edited)).returncode == 0
    edited.write_text(edited.read_text(encoding="utf-8").replace("shot 2", "shot two"), encoding="utf-8")
    shown = cli(env, "import", str(edited), "--project", code, "--json")
    assert shown.returncode == 0, shown.stderr
    preview = json.loads(shown.stdout)["preview"]
    assert preview["summary"]["changed"] == 1 and "Nothing applied" in shown.stderr
