"""Control images on the farm: a real `aipipe agent` configured with this Blender renders the shot's layout
.blend headless — a depth image, a line image and a pose image of the character rig from the shot camera —
and each lands as the shot's next `control` version of its kind, which a take's control then picks."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import bpy
import numpy as np
from bpy_extras.object_utils import world_to_camera_view
from mathutils import Vector
from PIL import Image

from tests.blender.rigs import metarig
from tests.support.agent import run_agent_until_done
from tests.support.api import assert_problem, login
from tests.support.server import start_with_admin

ADMIN = "admin_farm_control"
SIZE = (320, 180)


def _layout_blend(path: Path) -> tuple[int, int]:
    """A layout as an artist would save it: a camera looking at a cube with a character rig before it, on
    frame 1. Returns the (row, column) where the camera sees the rig's neck."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    bpy.ops.mesh.primitive_cube_add(location=(0, 2, 1))
    bpy.ops.object.camera_add(location=(0, -8, 1.5), rotation=(1.5708, 0, 0))
    scene.camera = bpy.context.object
    scene.render.resolution_x, scene.render.resolution_y = SIZE
    scene.frame_start = scene.frame_current = 1
    metarig(scene, (0.0, -2.0, 0.0))
    seen = world_to_camera_view(scene, scene.camera, Vector((0.0, -2.0, 1.45)))
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    return round((1 - seen.y) * SIZE[1]), round(seen.x * SIZE[0])


def test_the_layouts_control_images_are_rendered_by_an_agent_into_control_versions(tmp_path: Path) -> None:
    from blender_addon.control import pose

    blend = tmp_path / "SHT_0010_layout_v001.blend"
    neck = _layout_blend(blend)
    server, password = start_with_admin(tmp_path / "server", None, ADMIN)
    try:
        admin = login(server.url, ADMIN, password)
        body = {"code": "CI", "name": "컨트롤", "fps": "24", "width": SIZE[0], "height": SIZE[1]}
        project = admin.post("/api/projects", json=body).json()
        scene = admin.post(f"/api/projects/{project['id']}/scenes", json={}).json()
        shot = admin.post(
            f"/api/projects/{project['id']}/shots", json={"scene_id": scene["id"], "duration_frames": 12}
        ).json()
        url = f"/api/shots/{shot['id']}/control-images"
        assert_problem(admin.post(url, json={}), 409, "shot_id")  # no layout yet
        layout = admin.post(
            f"/api/shots/{shot['id']}/versions",
            data={"stage": "layout"},
            files={"files": (blend.name, blend.read_bytes(), "application/octet-stream")},
        )
        assert layout.status_code == 201, layout.text
        assert_problem(admin.post(url, json={"kinds": ["depth", "depth"]}), 422, "kinds.1")
        assert admin.post(url, json={"kinds": ["normal"]}).status_code == 422
        made = admin.post(url, json={"kinds": ["depth", "canny", "pose"]})
        assert made.status_code == 201, made.text
        jobs = made.json()["jobs"]
        assert [(j["type"], j["output_stage"], j["params"]["kind"]) for j in jobs] == [
            ("control_image", "control", kind) for kind in ("depth", "canny", "pose")
        ]
        key = admin.post("/api/api-keys", json={"name": "blender-agent", "role": "agent"}).json()["key"]
        for job in jobs:  # one agent run per job still queued (each run stops once its job is done)
            state = admin.get(f"/api/farm/jobs/{job['id']}").json()
            if state["status"] in ("queued", "running"):
                state, output = run_agent_until_done(
                    admin,
                    server.url,
                    key,
                    tmp_path / "work",
                    job["id"],
                    ["--blender", sys.executable, "--name", "cpu-blender"],
                )
                assert state["status"] == "succeeded", f"{state}\n--- agent ---\n{output}"
        assert "control_image" in admin.get("/api/farm/agents").json()[0]["job_types"]

        versions = admin.get(f"/api/shots/{shot['id']}/versions", params={"stage": "control"}).json()["items"]
        by_kind = {v["provenance"]["control_kind"]: v for v in versions}
        assert sorted(by_kind) == ["canny", "depth", "pose"] and len(versions) == 3
        for version in versions:
            provenance = version["provenance"]
            assert provenance["layout_version_id"] == layout.json()["id"] and provenance["source"] == "farm"
            assert provenance["tool"] == "blender" and provenance["frame"] == 1
            assert provenance["camera"] == "Camera" and provenance["job_type"] == "control_image"

        def picture(kind: str) -> tuple[str, np.ndarray]:
            file = next(f for f in by_kind[kind]["files"] if f["name"].endswith(".png"))
            with Image.open(io.BytesIO(admin.get(file["url"]).content)) as image:
                assert image.size == SIZE
                return image.mode, np.array(image)

        mode, depth = picture("depth")
        assert mode == "L" and depth.max() == 255 and depth[0, 0] == 0  # the nearest white, the sky black
        mode, lines = picture("canny")
        assert mode == "L" and set(np.unique(lines)) == {0, 255} and (lines == 255).mean() < 0.2
        mode, skeleton = picture("pose")
        assert mode == "RGB" and tuple(skeleton[neck]) == pose.COLOURS[pose.KEYPOINTS.index("neck")]

        # A take conditioned on the shot's depth picks the farm-made image.
        take = admin.post(f"/api/shots/{shot['id']}/takes", json={"control": {"kind": "depth"}})
        assert take.status_code == 201, take.text
        [job] = take.json()["jobs"]
        assert [(i["role"], i["version_id"]) for i in job["inputs"]] == [
            ("control_image", by_kind["depth"]["id"])
        ]
    finally:
        server.stop()
