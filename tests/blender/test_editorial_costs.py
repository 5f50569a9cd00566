"""The VSE panel "Shot cost": for the active strip's shot it shows the GPU time and takes the server counts
(jobs written with known GPU seconds, takes published through the API), fetched on the worker."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import bpy
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from tests.blender.helpers import approve_first_frame, idle, pump
from tests.blender.test_addon_panels import RecordingLayout


def _draw() -> list[str]:
    log: list[str] = []
    bpy.types.AIPIPE_PT_editorial_costs.draw(SimpleNamespace(layout=RecordingLayout(log)), bpy.context)
    return log


def _shot_with_costs(studio) -> dict:
    """A shot of its own project with two takes and two jobs: 1 h 30 min of GPU time, one retry."""
    from sync_server.db.models import Job

    admin = studio.admin
    # A code after the studio's NIGHT: a later login in the session still picks NIGHT (shots are counted).
    code = f"ZCOST{uuid.uuid4().hex[:6].upper()}"
    project = admin.post("/api/projects", json={"code": code, "name": "Costs"}).json()
    scene = admin.post(f"/api/projects/{project['id']}/scenes", json={}).json()
    shot = admin.post(f"/api/projects/{project['id']}/shots", json={"scene_id": scene["id"]}).json()
    for _ in range(2):
        approve_first_frame(admin, shot["id"])
    engine = create_engine(f"sqlite:///{(studio.server.data_dir / 'aipipe.db').resolve()}")
    try:
        with Session(engine) as session:
            for seconds, attempts in ((3600.0, 1), (1800.0, 2)):
                session.add(
                    Job(
                        project_id=uuid.UUID(project["id"]),
                        shot_id=uuid.UUID(shot["id"]),
                        type="i2v",
                        status="succeeded",
                        gpu_seconds=seconds,
                        attempts=attempts,
                    )
                )
            session.commit()
    finally:
        engine.dispose()
    return shot


def test_the_panel_shows_the_active_strips_gpu_time_and_takes(online, studio) -> None:
    from blender_addon.editorial import vse

    assert "label:Select a strip of the edit to see its shot's cost" in _draw()
    shot = _shot_with_costs(studio)
    scene = bpy.context.scene
    strips = (
        (scene.sequence_editor or scene.sequence_editor_create()).strips
        if bpy.app.version >= (4, 4)
        else (scene.sequence_editor or scene.sequence_editor_create()).sequences
    )
    span = {"length": 24} if bpy.app.version >= (5, 0) else {"frame_end": 25}
    strip = strips.new_effect(name=shot["code"], type="COLOR", channel=2, frame_start=1, **span)
    strip[vse.SHOT_ID], strip[vse.CODE] = shot["id"], shot["code"]
    scene.sequence_editor.active_strip = strip
    first = _draw()
    assert "label:Loading…" in first and f"label:{shot['code']}" in first  # asked, not waited for
    pump(idle, what="the shot's cost")
    shown = _draw()
    for expected in ("label:GPU time: 1 h 30 min", "label:Takes: 2", "label:Jobs: 2, retries: 1"):
        assert expected in shown, shown
    assert "operator:aipipe.editorial_costs_refresh" in shown
    assert bpy.ops.aipipe.editorial_costs_refresh() == {"FINISHED"}
    assert "label:Loading…" in _draw()
    pump(idle, what="the refreshed cost")
    assert "label:Takes: 2" in _draw()
