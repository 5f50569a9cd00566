"""`aipipe project archive` over real HTTP: the server zips the project, the CLI downloads the zip."""

from __future__ import annotations

import json
import os
import stat
import zipfile
from pathlib import Path

from tests.support.api import Api
from tests.support.cli import aipipe, api_key, cli_env


def test_archive_is_made_by_the_server_and_downloaded_with_the_umask_mode(api: Api, tmp_path: Path) -> None:
    project = api.project(name="밤의 골목")
    confirmed = api.admin.post(f"/api/projects/{project['id']}/confirm", json={})
    assert confirmed.status_code == 200, confirmed.text
    env = cli_env(tmp_path / "config", api.base_url, api_key(api, "admin"))
    dest = tmp_path / "downloads"
    dest.mkdir()
    done = aipipe("project", "archive", project["code"].lower(), "--download", str(dest), "--json", env=env)
    assert done.returncode == 0, done.stderr
    made = json.loads(done.stdout)  # stdout is only the JSON
    saved = Path(made["downloaded_to"])
    assert saved.parent == dest and saved.name == made["name"]
    with zipfile.ZipFile(saved) as bundle:
        records = json.loads(bundle.read("project.json"))
        assert any(name.endswith("project_config.json") for name in bundle.namelist())
    assert records["project"]["code"] == project["code"] and records["project"]["name"] == "밤의 골목"
    current = os.umask(0o022)
    os.umask(current)
    assert stat.S_IMODE(saved.stat().st_mode) == 0o666 & ~current
    assert not list(dest.glob(".*.tmp"))

    again = aipipe("project", "archive", project["code"], "--download", str(saved), env=env)
    assert again.returncode == 1 and "already exists" in again.stderr  # never overwritten


def test_archive_needs_the_admin_role_and_an_existing_project(api: Api, tmp_path: Path) -> None:
    project = api.project()
    editor = cli_env(tmp_path / "config", api.base_url, api_key(api, "editor"))
    refused = aipipe("project", "archive", project["code"], env=editor)
    assert refused.returncode == 1 and "403" in refused.stderr, refused.stderr
    admin = cli_env(tmp_path / "config", api.base_url, api_key(api, "admin"))
    missing = aipipe("project", "archive", "NO_SUCH_PROJECT", env=admin)
    assert missing.returncode == 1 and "NO_SUCH_PROJECT" in missing.stderr
    other = api.admin.get(f"/api/projects/{project['id']}/archives/aipipe.db")
    assert other.status_code == 404
