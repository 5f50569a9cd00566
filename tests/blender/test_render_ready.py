"""Render ready shots from real Blender's VSE against a real server: the selected strips' shots only are
queued with the chosen recipe, a skipped shot's reason is shown, each published step of the recipe comes
back onto the same strip (channel, frames, cut) as one undo step, and the shot form saves the shot's
recipe."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import bpy
import httpx

from tests.blender.helpers import approve_first_frame, idle, pump
from tests.blender.test_addon_panels import RecordingLayout
from tests.support.media import h264_mp4

RECIPE = "wan-rife"
DURATIONS = (24, 12, 18)


def _ready_project(admin: httpx.Client, confirm: bool = True) -> dict[str, Any]:
    """A confirmed project at 24 fps with a two-step recipe: shots A and B have approved first frames, C has
    none (render-ready skips it)."""
    # A code after the studio's NIGHT: a later login in the session still picks NIGHT first.
    code = f"ZRR{uuid.uuid4().hex[:6].upper()}"
    project = admin.post("/api/projects", json={"code": code, "name": "Render ready", "fps": "24"})
    assert project.status_code == 201, project.text
    project_id = project.json()["id"]
    scene = admin.post(f"/api/projects/{project_id}/scenes", json={}).json()
    shots = []
    for duration in DURATIONS:
        body = {"scene_id": scene["id"], "duration_frames": duration, "status": "ready"}
        made = admin.post(f"/api/projects/{project_id}/shots", json=body)
        assert made.status_code == 201, made.text
        shots.append(made.json())
    for shot in shots[:2]:
        approve_first_frame(admin, shot["id"])
    steps = [
        {"label": "i2v", "workflow": "wan22_i2v_14b"},
        {"label": "RIFE 2x", "workflow": "rife_interpolate_2x", "fps_factor": 2},
    ]
    recipe = admin.post(f"/api/projects/{project_id}/recipes", json={"name": RECIPE, "steps": steps})
    assert recipe.status_code == 201, recipe.text
    if confirm:
        confirmed = admin.post(f"/api/projects/{project_id}/confirm", json={})
        assert confirmed.status_code == 200, confirmed.text
    return {"project": project.json(), "shots": shots}


def _use(rt: Any, project_id: str) -> None:
    """Pick the project in the Shots panel, as the artist does (its events are followed from then on)."""
    assert bpy.ops.aipipe.shots_refresh() == {"FINISHED"}
    pump(lambda: project_id in rt.get().table("projects") and idle(), what="the projects")
    bpy.context.window_manager.aipipe.project = project_id
    pump(lambda: rt.get().live == "live" and idle(), what="the project's live events")


def _build() -> dict[str, Any]:
    from blender_addon.editorial import vse

    assert bpy.ops.aipipe.editorial_build() == {"FINISHED"}
    pump(idle, timeout_s=60, what="the edit")
    return {str(s[vse.CODE]): s for s in vse.picture_strips(bpy.context.scene)}


def _draw() -> list[str]:
    log: list[str] = []
    bpy.types.AIPIPE_PT_editorial_render_ready.draw(SimpleNamespace(layout=RecordingLayout(log)), bpy.context)
    return log


def _render_ready(rt: Any, recipe: str) -> dict[str, Any]:
    _draw()  # the panel asks for the recipes (on the worker)
    pump(lambda: recipe in rt.get().table("recipes") and idle(), what="the recipes")
    bpy.context.window_manager.aipipe_render_ready.recipe = recipe
    rt.get().message.text = ""
    assert bpy.ops.aipipe.editorial_render_ready() == {"FINISHED"}
    pump(lambda: idle() and rt.get().message.text.startswith("Render ready"), what="render ready")
    return rt.get().extras["render_ready"].answer


def _select(strips: dict[str, Any], codes: tuple[str, ...]) -> None:
    for code, strip in strips.items():
        strip.select = code in codes


def _publish(admin: httpx.Client, shot_id: str, stage: str, job_id: str, movie: Path) -> dict[str, Any]:
    """Publish the step's movie as its agent does: the version's provenance names the job that made it."""
    response = admin.post(
        f"/api/shots/{shot_id}/versions",
        data={"stage": stage, "provenance": json.dumps({"job_id": job_id})},
        files=[("files", (movie.name, movie.read_bytes(), "video/mp4"))],
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_selected_strips_queue_only_their_shots_and_a_skipped_shot_says_why(online, studio) -> None:
    made = _ready_project(studio.admin)
    a, b, c = (s["code"] for s in made["shots"])
    _use(online, made["project"]["id"])
    strips = _build()
    _select(strips, (a, c))
    log = _draw()
    assert "label:Only the selected strips' shots (2)" in log
    assert "operator:aipipe.editorial_render_ready" in log
    answer = _render_ready(online, RECIPE)
    assert [q["shot_code"] for q in answer["queued"]] == [a]
    assert answer["queued"][0]["recipe"] == RECIPE and len(answer["queued"][0]["job_ids"]) == 2
    assert [(s["shot_code"], s["reason"]) for s in answer["skipped"]] == [(c, "no approved first frame")]
    message = online.get().message
    assert message.level == "WARNING"
    assert message.text == f"Render ready: 1 shots queued, 1 skipped; {c} skipped: no approved first frame"
    # the server queued A's two steps and nothing for B (not selected) or C
    jobs = studio.admin.get("/api/farm/jobs", params={"project_id": made["project"]["id"], "limit": 50})
    assert sorted(j["shot_id"] for j in jobs.json()["items"]) == [made["shots"][0]["id"]] * 2
    log = _draw()
    assert f"label:{c} skipped: no approved first frame" in log  # the refusal stays in the panel
    assert f"label:{a}: 0/2 steps" in log and "label:Render jobs: 2 running or queued" in log
    # the panel follows the jobs from live events: the last step cancelled on the farm page shows at once
    cancelled = studio.admin.post(f"/api/farm/jobs/{answer['queued'][0]['job_ids'][1]}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    pump(lambda: f"label:{a}: 0/2 steps  1 failed or cancelled" in _draw(), what="the job event")
    assert "label:Render jobs: 1 running or queued" in _draw()
    # nothing selected: every confirmed shot; A is queued already, so only B goes
    _select(strips, ())
    assert "label:Every confirmed shot of the project" in _draw()
    answer = _render_ready(online, RECIPE)
    assert [q["shot_code"] for q in answer["queued"]] == [b]
    reasons = {s["shot_code"]: s["reason"] for s in answer["skipped"]}
    assert reasons[a].startswith("a render is already queued or running (job ")
    assert reasons[c] == "no approved first frame"


def test_each_published_step_replaces_the_strips_media_in_place_and_undo_restores_it(
    online, studio, tmp_path
) -> None:
    from blender_addon import compat
    from blender_addon.editorial import vse

    made = _ready_project(studio.admin)
    shot_a = made["shots"][0]
    _use(online, made["project"]["id"])
    strips = _build()
    _select(strips, (shot_a["code"],))
    before = strips[shot_a["code"]]
    place = (before.channel, *compat.strip_range(before))
    still = (before.type, before[vse.VERSION_ID])
    assert still[0] == "IMAGE"  # the approved first frame
    answer = _render_ready(online, RECIPE)
    render_job, interp_job = answer["queued"][0]["job_ids"]
    bpy.ops.ed.undo_push(message="Before the results")  # what the artist's last edit left on the stack

    def shown() -> Any:
        return next(s for s in vse.picture_strips(bpy.context.scene) if s[vse.CODE] == shot_a["code"])

    movie = h264_mp4(tmp_path / "a_render.mp4", seconds=2, size="160x90", rate="24")
    render = _publish(studio.admin, shot_a["id"], "render", render_job, movie)
    pump(lambda: idle() and shown()[vse.VERSION_ID] == render["id"], what="the render on the strip")
    strip = shown()
    assert strip.type == "MOVIE" and Path(bpy.path.abspath(strip.filepath)).read_bytes() == movie.read_bytes()
    assert (strip.channel, *compat.strip_range(strip)) == place  # same channel, same frames
    assert strip.frame_offset_start == 0 and not strip.get(vse.MISSING)  # a farm render is the cut
    assert online.get().message.text == f"{shot_a['code']}: render v001 from the farm is in the edit"
    # the next step's result (the interpolated movie) replaces it the same way
    interp_movie = h264_mp4(tmp_path / "a_interp.mp4", seconds=1, size="160x90", rate="48")
    interp = _publish(studio.admin, shot_a["id"], "interp", interp_job, interp_movie)
    pump(lambda: idle() and shown()[vse.VERSION_ID] == interp["id"], what="the interpolation on the strip")
    assert (shown().channel, *compat.strip_range(shown())) == place
    assert f"label:{shot_a['code']}: 0/2 steps  shows interp v001" in _draw()
    # a render published later by another job is not ours: the strip keeps the interpolation
    _publish(studio.admin, shot_a["id"], "render", str(uuid.uuid4()), movie)
    pump(idle, what="the other render")
    assert shown()[vse.VERSION_ID] == interp["id"]
    # each result is one undo step: two undos bring the first frame back, in place
    assert bpy.ops.ed.undo() == {"FINISHED"}
    assert shown()[vse.VERSION_ID] == render["id"]
    assert bpy.ops.ed.undo() == {"FINISHED"}
    assert (shown().type, shown()[vse.VERSION_ID]) == still
    assert (shown().channel, *compat.strip_range(shown())) == place


def test_the_shot_form_saves_the_shots_recipe(online, studio) -> None:
    made = _ready_project(studio.admin, confirm=False)  # a confirmed project's shots are locked
    shot = made["shots"][0]
    _use(online, made["project"]["id"])
    state = bpy.context.window_manager.aipipe
    state.shot_index = [s.id for s in state.shots].index(shot["id"])
    log: list[str] = []
    bpy.types.AIPIPE_PT_shot_details.draw(SimpleNamespace(layout=RecordingLayout(log)), bpy.context)
    assert "prop:recipe" in log
    pump(lambda: RECIPE in online.get().table("recipes") and idle(), what="the recipes")
    assert state.form.recipe == "NONE"  # the project's
    state.form.recipe = RECIPE
    assert bpy.ops.aipipe.shots_save() == {"FINISHED"}
    pump(lambda: idle() and "saved" in online.get().message.text, what="the save")
    assert studio.admin.get(f"/api/shots/{shot['id']}").json()["render_recipe"] == RECIPE
    # a form filled before the recipes arrive keeps the shot's own choice (nothing to save)
    from blender_addon.shots import ops

    online.get().table("recipes").clear()
    ops.load_form(shot["id"])
    assert state.form.recipe == RECIPE and not ops.form_dirty()
    state.form.recipe = "NONE"
    assert bpy.ops.aipipe.shots_save() == {"FINISHED"}
    pump(lambda: idle() and state.form.recipe == "NONE" and "saved" in online.get().message.text)
    assert studio.admin.get(f"/api/shots/{shot['id']}").json()["render_recipe"] is None
