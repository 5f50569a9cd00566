"""Script breakdown in real Blender against a real server: a text datablock becomes a draft, items are
dropped from the panel, the draft is applied, and "Create edit" lays the new shots out in the VSE."""

from __future__ import annotations

import secrets
import uuid
from pathlib import Path
from typing import Any

import bpy
import pytest

from tests.blender.helpers import idle, pump

SCRIPT = (Path(__file__).resolve().parents[1] / "data" / "breakdown" / "night_alley_ko.txt").read_text(
    encoding="utf-8"
)


@pytest.fixture
def editor(addon, studio):
    """Logged in as an editor (may break scripts down and apply them), on a fresh project."""
    name, password = f"editor_{secrets.token_hex(4)}", secrets.token_urlsafe(12)
    made = studio.admin.post("/api/users", json={"username": name, "password": password, "role": "editor"})
    assert made.status_code == 201, made.text
    addon.preferences().server_url = studio.url
    assert bpy.ops.aipipe.connect_login(username=name, password=password) == {"FINISHED"}
    pump(lambda: addon.get().online and idle(), what="login")
    # Its own project (the studio's shot count stays as other tests expect), coded to sort after the
    # studio's so that a later login still picks the studio's project first.
    project = studio.admin.post(
        "/api/projects", json={"code": f"ZBD{uuid.uuid4().hex[:8].upper()}", "name": "Breakdown", "fps": "24"}
    )
    assert project.status_code == 201, project.text
    addon.get().extras["project_id"] = project.json()["id"]
    return {"runtime": addon, "project": project.json()}


def _run(operator: Any, *args: Any, **kwargs: Any) -> None:
    assert operator(*args, **kwargs) == {"FINISHED"}
    pump(idle, timeout_s=60, what=str(operator))


def test_a_text_datablock_is_broken_down_reviewed_applied_and_laid_out_in_the_vse(editor, studio) -> None:
    from blender_addon import compat
    from blender_addon.editorial import vse

    state = bpy.context.window_manager.aipipe_breakdown
    assert not bpy.ops.aipipe.breakdown_analyse.poll()  # no script chosen yet
    text = bpy.data.texts.new("night_alley")
    text.from_string(SCRIPT)
    state.text_name = text.name

    _run(bpy.ops.aipipe.breakdown_analyse)
    assert [(r.item_id, r.kind) for r in state.rows][:4] == [
        ("CHR-001", "Character"),
        ("CHR-002", "Character"),
        ("ENV-001", "Environment"),
        ("ENV-002", "Environment"),
    ]
    assert sum(1 for r in state.rows if r.kind == "Shot") == 6 and state.status == "draft"
    assert not bpy.ops.aipipe.breakdown_create_edit.poll()  # nothing applied yet

    _run(
        bpy.ops.aipipe.breakdown_edit_item,
        "EXEC_DEFAULT",
        item_id="SHT-001-01",
        description="Rain.",
        action="Rina looks up at the sky",
        duration_s=6,
    )
    edited = next(r for r in state.rows if r.item_id == "SHT-001-01")
    assert edited.label == "Rain." and edited.detail.startswith("6 s")
    _run(bpy.ops.aipipe.breakdown_edit_item, "EXEC_DEFAULT", item_id="CHR-001", aliases="Rina, 리나씨")
    draft = studio.admin.get(f"/api/breakdowns/{state.draft_id}").json()
    shot = next(s for s in draft["content"]["shots"] if s["id"] == "SHT-001-01")
    assert shot["action"] == "Rina looks up at the sky" and shot["duration_s"] == 6
    character = next(c for c in draft["content"]["characters"] if c["id"] == "CHR-001")
    assert character["aliases"] == ["Rina", "리나씨"]
    _run(bpy.ops.aipipe.breakdown_decide, item_id="SHT-002-01", decision="dropped")
    dropped = next(r for r in state.rows if r.item_id == "SHT-002-01")
    assert dropped.decision == "dropped"
    project_id = editor["project"]["id"]
    assert studio.admin.get(f"/api/projects/{project_id}/shots").json()["total"] == 0

    _run(bpy.ops.aipipe.breakdown_apply)
    assert state.status == "applied"
    shots = studio.admin.get(f"/api/projects/{project_id}/shots", params={"sort": "order"}).json()["items"]
    assert len(shots) == 5

    scene = bpy.context.scene
    _run(bpy.ops.aipipe.breakdown_create_edit)
    strips = vse.picture_strips(scene)
    assert [s[vse.CODE] for s in strips] == [s["code"] for s in shots]
    assert [s[vse.SHOT_ID] for s in strips] == [s["id"] for s in shots]
    assert [s.type for s in strips] == ["COLOR"] * 5
    ranges = [compat.strip_range(s) for s in strips]
    lengths = [end - start for start, end in ranges]
    assert lengths == [s["duration_frames"] for s in shots]  # timed from the suggested durations
    assert lengths[0] == 6 * 24  # the length set in the panel
    assert all(ranges[i][1] == ranges[i + 1][0] for i in range(4)) and ranges[0][0] == scene.frame_start
    assert scene.frame_end == ranges[-1][1] - 1 and scene.render.fps == 24

    # A second Create edit appends after what is there instead of replacing it.
    _run(bpy.ops.aipipe.breakdown_create_edit)
    assert len(vse.picture_strips(scene)) == 10
    assert compat.strip_range(vse.picture_strips(scene)[5])[0] == ranges[-1][1]
    # the strips landed after the operator returned; one undo takes back the second Create edit
    assert bpy.ops.ed.undo() == {"FINISHED"}
    assert len(vse.picture_strips(bpy.context.scene)) == 5
