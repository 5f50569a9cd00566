"""The project's auto_render from real Blender's VSE against a real server: the "Render automatically"
checkbox of the Render ready panel PATCHes the project (a director may, an editor is refused and the box
stays as the server has it), an approved first frame then queues the shot's recipe on the server, and a
change made by another client shows in the checkbox from the live event."""

from __future__ import annotations

import secrets
from types import SimpleNamespace
from typing import Any

import bpy
import pytest

from tests.blender.helpers import approve_first_frame, idle, pump
from tests.blender.test_addon_panels import RecordingLayout
from tests.blender.test_render_ready import RECIPE, _ready_project, _use


@pytest.fixture
def director(addon, studio):
    """Logged in as a director (may change projects: project:admin)."""
    name, password = f"director_{secrets.token_hex(4)}", secrets.token_urlsafe(12)
    made = studio.admin.post("/api/users", json={"username": name, "password": password, "role": "director"})
    assert made.status_code == 201, made.text
    addon.preferences().server_url = studio.url
    assert bpy.ops.aipipe.connect_login(username=name, password=password) == {"FINISHED"}
    pump(lambda: addon.get().online and idle(), what="login")
    return addon


def _draw() -> list[str]:
    log: list[str] = []
    bpy.types.AIPIPE_PT_editorial_render_ready.draw(SimpleNamespace(layout=RecordingLayout(log)), bpy.context)
    return log


def _project_with_default_recipe(studio: Any) -> dict[str, Any]:
    made = _ready_project(studio.admin)
    project_id = made["project"]["id"]
    current = studio.admin.get(f"/api/projects/{project_id}").json()
    body = {"render_recipe": RECIPE, "revision": current["revision"]}
    patched = studio.admin.patch(f"/api/projects/{project_id}", json=body)
    assert patched.status_code == 200, patched.text
    return made


def test_a_director_turns_auto_render_on_and_an_approved_first_frame_queues_the_recipe(
    director, studio
) -> None:
    made = _project_with_default_recipe(studio)
    project_id, shot_c = made["project"]["id"], made["shots"][2]
    _use(director, project_id)
    settings = bpy.context.window_manager.aipipe_render_ready
    assert "prop:auto_render" in _draw()
    assert settings.auto_render is False

    settings.auto_render = True
    assert settings.auto_render is True  # shown at once while it is saved
    pump(lambda: idle() and "render when their first frame" in director.get().message.text, what="the save")
    assert director.get().message.text == (
        f"{made['project']['code']}: shots render when their first frame is approved"
    )
    assert studio.admin.get(f"/api/projects/{project_id}").json()["auto_render"] is True
    assert settings.auto_render is True
    # What the box asks for happens: shot C's first frame approved, the server queues its recipe.
    approve_first_frame(studio.admin, shot_c["id"])
    jobs = studio.admin.get("/api/farm/jobs", params={"project_id": project_id, "limit": 50}).json()["items"]
    assert sorted(j["output_stage"] for j in jobs if j["shot_id"] == shot_c["id"]) == ["interp", "render"]
    for job in jobs:
        studio.admin.post(f"/api/farm/jobs/{job['id']}/cancel")

    # Another client turns it off: the live event brings the checkbox along.
    current = studio.admin.get(f"/api/projects/{project_id}").json()
    off = studio.admin.patch(
        f"/api/projects/{project_id}", json={"auto_render": False, "revision": current["revision"]}
    )
    assert off.status_code == 200, off.text
    pump(lambda: settings.auto_render is False, what="the project's event")


def test_an_editor_may_not_change_auto_render_and_the_box_stays_as_the_server_has_it(online, studio) -> None:
    made = _project_with_default_recipe(studio)
    project_id = made["project"]["id"]
    _use(online, project_id)
    settings = bpy.context.window_manager.aipipe_render_ready
    settings.auto_render = True
    pump(lambda: idle() and online.get().message.level == "ERROR", what="the refusal", errors_ok=True)
    assert online.get().message.text.startswith("Saving automatic renders failed: 403")
    assert settings.auto_render is False
    assert studio.admin.get(f"/api/projects/{project_id}").json()["auto_render"] is False
