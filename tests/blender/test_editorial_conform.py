"""Conform this edit from real Blender's VSE against a real server: the strips, moved and trimmed by the
editor, are sent in timeline order with the version each shows and its trims as that version's frames; the
conform job the server queues carries exactly that edit; the panel follows the job from live events to its
end; and a strip whose version is not approved is refused by name."""

from __future__ import annotations

import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import bpy
import httpx

from tests.blender.helpers import idle, pump
from tests.blender.test_addon_panels import RecordingLayout
from tests.blender.test_render_ready import _build, _use
from tests.support.media import h264_mp4

DURATIONS = (24, 12, 18)
HANDLE = 4


def _publish(admin: httpx.Client, shot_id: str, movie: Path, approve: bool) -> dict[str, Any]:
    response = admin.post(
        f"/api/shots/{shot_id}/versions",
        data={"stage": "render", "handle_in": str(HANDLE)},
        files=[("files", (movie.name, movie.read_bytes(), "video/mp4"))],
    )
    assert response.status_code == 201, response.text
    if approve:
        verdict = admin.post(f"/api/versions/{response.json()['id']}/reviews", json={"verdict": "approve"})
        assert verdict.status_code == 201, verdict.text
    return response.json()


def _project(admin: httpx.Client, tmp_path: Path) -> dict[str, Any]:
    """Three shots at 24 fps, each with an approved two-second render holding a 4-frame head handle."""
    code = f"ZCF{uuid.uuid4().hex[:6].upper()}"  # after the studio's NIGHT, as test_render_ready does
    project = admin.post("/api/projects", json={"code": code, "name": "Conform", "fps": "24"})
    assert project.status_code == 201, project.text
    project_id = project.json()["id"]
    scene = admin.post(f"/api/projects/{project_id}/scenes", json={}).json()
    movie = h264_mp4(tmp_path / "render.mp4", seconds=2, size="160x90", rate="24")
    shots, renders = [], []
    for duration in DURATIONS:
        body = {"scene_id": scene["id"], "duration_frames": duration}
        made = admin.post(f"/api/projects/{project_id}/shots", json=body)
        assert made.status_code == 201, made.text
        shots.append(made.json())
        renders.append(_publish(admin, made.json()["id"], movie, approve=True))
    return {"project": project.json(), "shots": shots, "renders": renders, "movie": movie}


def _draw() -> list[str]:
    log: list[str] = []
    bpy.types.AIPIPE_PT_editorial_conform.draw(SimpleNamespace(layout=RecordingLayout(log)), bpy.context)
    return log


def test_conform_this_edit_sends_the_strips_in_timeline_order_with_their_trims(
    online, studio, tmp_path
) -> None:
    from blender_addon.editorial import conform, vse

    made = _project(studio.admin, tmp_path)
    a, b, c = made["shots"]
    _use(online, made["project"]["id"])
    strips = _build()
    for shot, render in zip(made["shots"], made["renders"], strict=True):
        strip = strips[shot["code"]]
        assert strip.type == "MOVIE" and strip[vse.VERSION_ID] == render["id"]
        assert round(strip.frame_offset_start) == HANDLE  # the build cut it at the render's head handle
    # The editor trims A's head by 2 more frames, B's tail by 4, and moves A after C.
    strips[a["code"]].frame_offset_start = HANDLE + 2
    strips[b["code"]].frame_final_duration = DURATIONS[1] - 4
    strips[a["code"]].frame_start += 200
    log = _draw()
    assert "operator:aipipe.editorial_conform" in log and "prop:approved_only" in log
    assert f"label:3 strips, {sum(DURATIONS) - 6} frames, in strip order" in log

    online.get().message.text = ""
    assert bpy.ops.aipipe.editorial_conform() == {"FINISHED"}
    pump(lambda: idle() and online.get().message.text == "Conform v001 queued", what="the conform")
    delivery = conform.state(online.get()).delivery
    expected = [
        (b, made["renders"][1], HANDLE, HANDLE + DURATIONS[1] - 4),
        (c, made["renders"][2], HANDLE, HANDLE + DURATIONS[2]),
        (a, made["renders"][0], HANDLE + 2, HANDLE + DURATIONS[0]),
    ]
    sent = [(e["shot_id"], e["version_id"], e["cut_in"], e["cut_out"]) for e in delivery["options"]["edit"]]
    assert sent == [(s["id"], r["id"], cut_in, cut_out) for s, r, cut_in, cut_out in expected]
    # The farm job conforms exactly that: each render from its cut_in, for the strip's length.
    job = studio.admin.get(f"/api/farm/jobs/{delivery['conform_job_id']}").json()
    assert (job["type"], job["status"]) == ("conform", "queued")
    assert [(s["code"], s["source_in"], s["frames"]) for s in job["params"]["shots"]] == [
        (s["code"], cut_in, cut_out - cut_in) for s, _, cut_in, cut_out in expected
    ]
    log = _draw()
    assert f"label:Conform v001: 3 cuts, {sum(DURATIONS) - 6} frames" in log
    assert "label:Waiting for a farm agent" in log

    # The panel follows the job from live events: cancelled on the farm page, the conform shows it failed.
    cancelled = studio.admin.post(f"/api/farm/jobs/{delivery['conform_job_id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    pump(lambda: conform.state(online.get()).status == "failed", what="the delivery's event", errors_ok=True)
    assert online.get().message.level == "ERROR"
    assert online.get().message.text.startswith("Conform v001 failed: conform: ")
    assert any(line.startswith("label:Failed: conform: ") for line in _draw())


def test_a_strip_showing_a_version_nobody_approved_is_refused_by_name(online, studio, tmp_path) -> None:
    from blender_addon.editorial import vse

    made = _project(studio.admin, tmp_path)
    b = made["shots"][1]
    _use(online, made["project"]["id"])
    strips = _build()
    newer = _publish(studio.admin, b["id"], made["movie"], approve=False)
    strips[b["code"]][vse.VERSION_ID] = newer["id"]  # what stepping to the newer take leaves on the strip
    assert bpy.ops.aipipe.editorial_conform() == {"FINISHED"}
    pump(lambda: idle() and online.get().message.level == "ERROR", what="the refusal", errors_ok=True)
    log = _draw()
    assert "label:The conform was refused:" in log
    shown = " ".join(line.removeprefix("label:") for line in log)  # the panel wraps long lines
    assert f"Strip {strips[b['code']].name}: shot {b['code']}: render v002 is not approved" in shown
    listed = studio.admin.get(f"/api/projects/{made['project']['id']}/deliveries").json()
    assert listed == []  # nothing queued
    # Conforming what the strips show, approved or not, is the editor's choice.
    bpy.context.window_manager.aipipe_conform.approved_only = False
    online.get().message.text, online.get().message.level = "", "INFO"
    assert bpy.ops.aipipe.editorial_conform() == {"FINISHED"}
    pump(lambda: idle() and online.get().message.text == "Conform v001 queued", what="the conform")
    plan = studio.admin.get(f"/api/projects/{made['project']['id']}/deliveries").json()[0]["plan"]
    assert [p["version"] for p in plan] == ["render v001", "render v002", "render v001"]
