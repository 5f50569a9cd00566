"""Control images from the shot camera (issue 14: depth + line image, 1280×720, < 2 s in background Blender).

Runs in a Blender venv's `bpy` module (background Blender, no window), the add-on not registered, the way the
operator calls it: `blender_addon.control.render.render_control_images(scene, ...)`. The scene is a layout
blockout: a floor, `--boxes` boxes, a subdivided sphere standing in for a character (`--sphere-level`), and
a camera; one render (Workbench, normal matcap + depth pass) gives both images.

The first run in a process pays Blender's one-time GPU/shader start (the artist's Blender has paid it
already); it is reported apart from the warm runs. Reported per run: render + read-back, depth map + PNG,
line map + PNG, total; then the median of the warm runs, the triangle count and the machine's load.
`--pose` adds a character rig (Rigify metarig bone names) beside the sphere and the pose image to each run
(its bones projected through the camera and drawn: no render), timed apart.

    .venv-blender-4.2/bin/python scripts/bench_control_images.py [--runs 5] [--width 1280] [--height 720]
        [--pose]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def build_scene(width: int, height: int, boxes: int, sphere_level: int) -> tuple[object, int]:
    import bmesh
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.resolution_x, scene.render.resolution_y = width, height

    def add(name: str, build) -> object:  # type: ignore[no-untyped-def]
        mesh = bpy.data.meshes.new(name)
        shape = bmesh.new()
        build(shape)
        shape.to_mesh(mesh)
        shape.free()
        obj = bpy.data.objects.new(name, mesh)
        scene.collection.objects.link(obj)
        return obj

    add("floor", lambda b: bmesh.ops.create_grid(b, x_segments=1, y_segments=1, size=30))
    for i in range(boxes):
        box = add(f"box{i}", lambda b: bmesh.ops.create_cube(b, size=1.5))
        box.location = ((i % 6) * 3 - 7.5, (i // 6) * 3 + 2, 0.75)
        box.rotation_euler[2] = i * 0.4
    hero = add("character", lambda b: bmesh.ops.create_icosphere(b, subdivisions=sphere_level, radius=1.0))
    hero.location = (0, -2, 1)
    camera = bpy.data.objects.new("CAM", bpy.data.cameras.new("CAM"))
    scene.collection.objects.link(camera)
    camera.location, camera.rotation_euler = (0, -12, 3), (1.35, 0, 0)
    scene.camera = camera
    triangles = sum(len(o.data.polygons) for o in scene.objects if o.type == "MESH")
    return scene, triangles


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--boxes", type=int, default=24)
    parser.add_argument("--sphere-level", type=int, default=6)
    parser.add_argument("--pose", action="store_true", help="also the pose image of a character rig")
    args = parser.parse_args()

    import bpy

    from blender_addon.control.render import render_control_images

    scene, triangles = build_scene(args.width, args.height, args.boxes, args.sphere_level)
    kinds = ("depth", "canny", "pose") if args.pose else ("depth", "canny")
    if args.pose:
        from tests.blender.rigs import metarig

        metarig(scene, (1.5, 0.0, 0.0))
    folder = tempfile.mkdtemp(prefix="bench-control-")
    totals: list[float] = []
    for run in range(args.runs):
        started = time.perf_counter()
        result = render_control_images(scene, folder, f"run{run}", kinds)
        total = time.perf_counter() - started
        totals.append(total)
        t = result.timings
        label = "cold" if run == 0 else "warm"
        print(
            f"run {run} ({label}): render+read {t['render']:.3f} s, depth {t['depth']:.3f} s, "
            f"lines {t['canny']:.3f} s, "
            + (f"pose {t['pose']:.3f} s, " if args.pose else "")
            + f"total {total:.3f} s"
        )
    warm = totals[1:] or totals
    load = os.getloadavg()
    print(
        f"Blender {bpy.app.version_string}, {args.width}×{args.height}, {triangles} faces: "
        f"cold {totals[0]:.3f} s, warm median {statistics.median(warm):.3f} s (max {max(warm):.3f} s); "
        f"load average {load[0]:.2f} / {load[1]:.2f} on {os.cpu_count()} cores"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
