"""The farm's headless playblast renders the shot's layout scene at the project's size, even when the .blend
was saved with Blender's empty default scene active (as a headless layout publish saves it)."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import av
import bmesh
import bpy


def _layout_scene() -> None:
    default = bpy.context.scene  # stays active and empty, 1920x1080 by default
    default.frame_start, default.frame_end = 1, 2
    scene = bpy.data.scenes.new("SHT_0010_layout")
    scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage = 96, 54, 100
    scene.frame_start, scene.frame_end = 993, 1012
    scene["aipipe_shot"] = {"shot_code": "SHT_0010", "cut_in": 1001, "cut_out": 1004}
    camera = bpy.data.objects.new("SHT_0010", bpy.data.cameras.new("SHT_0010"))
    camera.location = (0.0, -10.0, 1.6)
    camera.rotation_euler = (math.radians(90.0), 0.0, 0.0)
    scene.collection.objects.link(camera)
    scene.camera = camera
    mesh = bpy.data.meshes.new("block")
    built = bmesh.new()
    bmesh.ops.create_cube(built, size=3.0)
    built.to_mesh(mesh)
    built.free()
    block = bpy.data.objects.new("block", mesh)
    block.location = (0.0, 0.0, 1.5)
    scene.collection.objects.link(block)
    assert bpy.context.scene == default


def test_the_layout_scene_is_rendered_not_the_empty_active_one(tmp_path) -> None:
    _layout_scene()
    blend = tmp_path / "SHT_0010_layout_v001.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    output = tmp_path / "pb.mp4"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "blender_addon.playblast",
            str(blend),
            "--output",
            str(output),
            "--shot",
            "SHT_0010",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert (result["frame_start"], result["frame_end"], result["frames"]) == (1001, 1004, 4)
    with av.open(str(output)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (96, 54)
        picture = next(container.decode(stream)).to_ndarray(format="gray")
    middle = picture[picture.shape[0] // 4 : 3 * picture.shape[0] // 4]
    assert int(middle.max()) - int(middle.min()) > 30  # the block is in the picture, not a flat frame
