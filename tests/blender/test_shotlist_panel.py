"""The shot list in Excel from real Blender against a real server: export, preview an edited file (a
conflict is shown unticked), apply the ticked changes; a broken file shows its errors and cannot apply."""

from __future__ import annotations

import csv
import io
import secrets
import uuid
from pathlib import Path
from typing import Any

import bpy
import pytest

from tests.blender.helpers import idle, pump


@pytest.fixture
def editor(addon, studio):
    """Logged in as an editor on a fresh project with two shots."""
    name, password = f"editor_{secrets.token_hex(4)}", secrets.token_urlsafe(12)
    made = studio.admin.post("/api/users", json={"username": name, "password": password, "role": "editor"})
    assert made.status_code == 201, made.text
    addon.preferences().server_url = studio.url
    assert bpy.ops.aipipe.connect_login(username=name, password=password) == {"FINISHED"}
    pump(lambda: addon.get().online and idle(), what="login")
    project = studio.admin.post(
        "/api/projects", json={"code": f"SL{uuid.uuid4().hex[:8].upper()}", "name": "Shot list"}
    ).json()
    scene = studio.admin.post(f"/api/projects/{project['id']}/scenes", json={}).json()
    shots = [
        studio.admin.post(
            f"/api/projects/{project['id']}/shots",
            json={"scene_id": scene["id"], "description": f"shot {i}", "duration_frames": 24},
        ).json()
        for i in range(2)
    ]
    addon.get().extras["project_id"] = project["id"]
    return {"project": project, "shots": shots}


def _run(operator: Any, **kwargs: Any) -> None:
    assert operator(**kwargs) == {"FINISHED"}
    pump(idle, timeout_s=60, what=str(operator))


def test_export_preview_tick_and_apply_an_edited_shot_list(editor, studio, tmp_path: Path) -> None:
    state = bpy.context.window_manager.aipipe_shotlist
    assert not bpy.ops.aipipe.shotlist_preview.poll()  # no file chosen yet
    state.export_folder, state.export_format = str(tmp_path), "csv"
    _run(bpy.ops.aipipe.shotlist_export)
    exported = tmp_path / f"{editor['project']['code']}_shots.csv"
    rows = list(csv.reader(io.StringIO(exported.read_text(encoding="utf-8-sig"))))
    header = rows[0]
    assert [r[header.index("Description")] for r in rows[1:]] == ["shot 0", "shot 1"]

    first, second = editor["shots"]
    # After the export, someone changes the second shot's duration on the server.
    studio.admin.patch(
        f"/api/shots/{second['id']}", json={"duration_frames": 30, "revision": second["revision"]}
    )
    rows[1][header.index("Description")] = "edited in Excel"
    rows[2][header.index("Duration (frames)")] = "48"
    edited = tmp_path / "edited.csv"
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    edited.write_text(buffer.getvalue(), encoding="utf-8")

    state.file_path = str(edited)
    _run(bpy.ops.aipipe.shotlist_preview)
    assert state.can_apply and state.summary == "0 new, 1 changed, 0 missing, 1 conflicts"
    lines = {(line.code, line.field): line for line in state.lines}
    description = lines[(first["code"], "description")]
    duration = lines[(second["code"], "duration_frames")]
    assert description.use and description.new == "edited in Excel" and not description.conflict
    assert duration.conflict and not duration.use and duration.server == "30" and duration.new == "48"
    assert "server: 30" in duration.label

    _run(bpy.ops.aipipe.shotlist_apply)
    assert studio.admin.get(f"/api/shots/{first['id']}").json()["description"] == "edited in Excel"
    assert studio.admin.get(f"/api/shots/{second['id']}").json()["duration_frames"] == 30  # conflict skipped
    # The panel now shows what is left: only the skipped conflict.
    assert [(line.code, line.field) for line in state.lines] == [(second["code"], "duration_frames")]

    # Ticking the conflict makes the file win.
    state.lines[0].use = True
    _run(bpy.ops.aipipe.shotlist_apply)
    assert studio.admin.get(f"/api/shots/{second['id']}").json()["duration_frames"] == 48


def test_a_broken_file_shows_its_errors_and_cannot_be_applied(editor, studio, tmp_path: Path) -> None:
    state = bpy.context.window_manager.aipipe_shotlist
    broken = tmp_path / "broken.csv"
    broken.write_text("Shot,Duration (frames)\nSHT_0990,soon\n", encoding="utf-8")
    state.file_path = str(broken)
    assert bpy.ops.aipipe.shotlist_preview() == {"FINISHED"}
    pump(idle, timeout_s=60, what="preview", errors_ok=True)
    assert not state.can_apply and "error" in state.summary
    assert "row 2, column Duration (frames)" in state.problems
    assert not bpy.ops.aipipe.shotlist_apply.poll()
    total = studio.admin.get(f"/api/projects/{editor['project']['id']}/shots").json()["total"]
    assert total == 2
