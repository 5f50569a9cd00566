"""The demo's layout scene holds a small set (ground, blocks, a stand-in per character at its mark), so its
playblast shows a layout rather than an empty frame."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import bpy
import numpy as np

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "demo_layout.py"


def _script():
    spec = importlib.util.spec_from_file_location("demo_layout", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_set_is_in_front_of_the_shot_camera_and_shows_in_a_render(tmp_path) -> None:
    demo_layout = _script()
    scene = bpy.data.scenes.new("SHT_0010_layout")
    scene.render.resolution_x, scene.render.resolution_y = 192, 108
    camera = bpy.data.objects.new("SHT_0010", bpy.data.cameras.new("SHT_0010"))
    camera.location, camera.rotation_euler = (0.0, -10.0, 1.6), (math.radians(90.0), 0.0, 0.0)
    scene.collection.objects.link(camera)
    scene.camera = camera

    demo_layout.build_set(scene, ["리나", "준호"])
    demo_layout.build_set(scene, ["리나", "준호"])  # a re-run adds nothing twice

    names = sorted(o.name for o in scene.objects)
    assert {"ground", "wall_left", "crate", "standin_리나", "standin_준호", "mark_리나", "mark_준호"} <= set(
        names
    )
    assert len(names) == len(set(names)) and not any(n.endswith(".001") for n in names)
    left, right = bpy.data.objects["standin_리나"], bpy.data.objects["standin_준호"]
    assert left.location.x < right.location.x and left.location.y > camera.location.y

    scene.render.engine = "BLENDER_WORKBENCH"
    scene.render.filepath = str(tmp_path / "frame.png")
    scene.render.image_settings.file_format = "PNG"
    with bpy.context.temp_override(scene=scene):
        bpy.ops.render.render(write_still=True, scene=scene.name)
    image = bpy.data.images.load(str(tmp_path / "frame.png"))
    pixels = np.array(image.pixels[:]).reshape(image.size[1], image.size[0], 4)[..., :3]
    grey = pixels.mean(axis=2)
    centre = grey[grey.shape[0] // 4 : 3 * grey.shape[0] // 4, grey.shape[1] // 3 : 2 * grey.shape[1] // 3]
    assert float(centre.max() - centre.min()) > 0.1  # stand-ins and buildings, not one flat colour
    reds = pixels[..., 0] - pixels[..., 2]
    assert float(reds.max()) > 0.2  # the first stand-in's red shows
