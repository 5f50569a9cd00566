"""A playblast on the farm: a real `aipipe agent` configured with this Blender renders the shot's layout
.blend headless, and the mp4 lands as the shot's next playblast version with the shot's length."""

from __future__ import annotations

import sys
from pathlib import Path

import av
import bpy

from tests.support.agent import run_agent_until_done
from tests.support.api import login
from tests.support.server import start_with_admin

ADMIN = "admin_farm_playblast"


def _layout_blend(path: Path, frames: int) -> None:
    """A small layout scene as an artist would save it: a camera looking at a cube, the shot's range."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    bpy.ops.mesh.primitive_cube_add(location=(0, 0, 0))
    bpy.ops.object.camera_add(location=(0, -6, 1.5), rotation=(1.4, 0, 0))
    scene.camera = bpy.context.object
    scene.frame_start, scene.frame_end = 1001, 1000 + frames
    scene.render.resolution_x, scene.render.resolution_y = 320, 180
    bpy.ops.wm.save_as_mainfile(filepath=str(path))


def test_a_layout_blend_is_playblasted_by_an_agent_into_the_next_playblast_version(tmp_path: Path) -> None:
    blend = tmp_path / "SHT_0010_layout_v001.blend"
    _layout_blend(blend, frames=12)
    server, password = start_with_admin(tmp_path / "server", None, ADMIN)
    try:
        admin = login(server.url, ADMIN, password)
        project = admin.post(
            "/api/projects", json={"code": "PB", "name": "플레이블라스트", "fps": "24"}
        ).json()
        scene = admin.post(f"/api/projects/{project['id']}/scenes", json={}).json()
        shot = admin.post(
            f"/api/projects/{project['id']}/shots", json={"scene_id": scene["id"], "duration_frames": 12}
        ).json()
        refused = admin.post(f"/api/shots/{shot['id']}/playblast", json={})
        assert refused.status_code == 409 and "no layout version" in refused.json()["detail"]
        layout = admin.post(
            f"/api/shots/{shot['id']}/versions",
            data={"stage": "layout"},
            files={"files": (blend.name, blend.read_bytes(), "application/octet-stream")},
        )
        assert layout.status_code == 201, layout.text
        job = admin.post(f"/api/shots/{shot['id']}/playblast", json={})
        assert job.status_code == 201, job.text
        job = job.json()
        assert job["type"] == "playblast" and job["output_stage"] == "playblast"
        key = admin.post("/api/api-keys", json={"name": "blender-agent", "role": "agent"}).json()["key"]
        state, output = run_agent_until_done(
            admin,
            server.url,
            key,
            tmp_path / "work",
            job["id"],
            ["--blender", sys.executable, "--name", "cpu-blender"],
        )
        assert state["status"] == "succeeded", f"{state}\n--- agent ---\n{output}"
        registered = admin.get("/api/farm/agents").json()
        assert "playblast" in registered[0]["job_types"]
        version = admin.get(f"/api/versions/{state['version_id']}").json()
        assert version["stage"] == "playblast" and version["number"] == 1
        assert version["provenance"]["tool"] == "blender" and version["provenance"]["frames"] == 12
        # what the movie holds, for the edit: the cut from frame 1001, no handles
        assert (version["first_frame"], version["frame_count"], version["handle_in"]) == (1001, 12, 0)
        movie = next(f for f in version["files"] if f["name"].endswith(".mp4"))
        local = tmp_path / "playblast.mp4"
        local.write_bytes(admin.get(movie["url"]).content)
        with av.open(str(local)) as container:
            stream = container.streams.video[0]
            assert stream.codec_context.name == "h264"
            assert sum(1 for _ in container.decode(stream)) == 12  # the shot's length, frame for frame
    finally:
        server.stop()
