"""The layout's 2.5D set and depth video (issue 15), in background Blender (a Blender venv's `bpy` module).

- Build 2.5D set: `blender_addon.layout.set25d.build_set` from a 1280×720 16-bit depth PNG (the control
  render of a floor, a box and a wall seen from 1.6 m), `--columns` quads across: read the PNG, fit the scale
  on the ground, build the grid, make the mesh, material and collection. Median of `--runs` (the first run
  apart).
- Depth video: `blender_addon.playblast.depth_video.render_depth_video` of a 24 fps shot with a box moving
  towards the camera, `--frames` frames at 16 fps at `--video-size` (Wan's 832×480): one control depth render
  per frame, the clip's depth map, the PNGs and Blender's FFmpeg encode; seconds per frame.

    .venv-blender-4.2/bin/python scripts/bench_layout_set.py [--runs 5] [--columns 160] [--frames 17]
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--columns", type=int, default=160)
    parser.add_argument("--frames", type=int, default=17)
    parser.add_argument("--video-size", default="832x480")
    args = parser.parse_args()

    import bpy

    from blender_addon.control import maps, png
    from blender_addon.control.render import render_passes
    from blender_addon.layout import set25d
    from blender_addon.playblast.depth_video import DepthVideoSpec, render_depth_video
    from tests.blender.test_layout_depth_video import _shot
    from tests.blender.test_layout_set_build import _stage

    folder = tempfile.mkdtemp(prefix="bench-layout-set-")
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene, props = _stage()
    scene.render.resolution_x, scene.render.resolution_y = 1280, 720
    depth = png.write_grey(os.path.join(folder, "depth.png"), maps.depth_map(render_passes(scene).depth, 16))
    for obj in props:
        bpy.data.objects.remove(obj)
    times = []
    for _ in range(args.runs + 1):
        started = time.perf_counter()
        obj = set25d.build_set(scene, depth, None, set25d.SetOptions("inverse", args.columns))
        times.append(time.perf_counter() - started)
    faces = len(obj.data.polygons)
    print(f"Blender {bpy.app.version_string}, load {os.getloadavg()[0]:.1f}")
    print(
        f"build_set 1280x720, {args.columns} columns ({faces} quads): first {times[0]:.3f} s, "
        f"median of {args.runs} {statistics.median(times[1:]):.3f} s"
    )

    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = _shot()
    width, height = (int(v) for v in args.video_size.split("x"))
    spec = DepthVideoSpec(os.path.join(folder, "depth.mp4"), 16, args.frames, 1001, None, width, height)
    render_passes(scene)  # Blender's one-time render start, as an artist's Blender has paid it
    result = render_depth_video(scene, spec)
    print(
        f"depth video {args.frames} frames {width}x{height} at 16 fps: {result.seconds:.2f} s "
        f"({result.seconds / args.frames:.3f} s/frame), load {os.getloadavg()[0]:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
