"""Headless control image of a layout .blend, for the render farm and scripts:

    python -m blender_addon.control SHOT.blend --kind depth|canny|pose --output out.png [--scene NAME]
        [--shot SHT_0010] [--frame N] [--bits 8|16]

The same images as the add-on's *Render and upload control images* (render.py): from the scene camera at
`--frame` (default: the shot's cut in saved in the .blend, else the scene's current frame), at the scene's
full resolution. Without --scene: the shot's layout scene (as the playblast picks it). Run with an
interpreter that has the `bpy` module (or `blender -b --python-expr` importing this). Prints one JSON object
on stdout: path, kind, width, height, frame, camera, scene, seconds. Exit status 2 on bad arguments or a
failed render, with the reason on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

import bpy

from ..playblast.__main__ import shot_scene
from .render import KINDS, render_control_images


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m blender_addon.control", description=__doc__)
    parser.add_argument("blend")
    parser.add_argument("--kind", required=True, choices=KINDS)
    parser.add_argument("--output", required=True)
    parser.add_argument("--scene")
    parser.add_argument("--shot", default="")
    parser.add_argument("--frame", type=int)
    parser.add_argument("--bits", type=int, choices=(8, 16), default=8)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        bpy.ops.wm.open_mainfile(filepath=args.blend)
        scene = bpy.data.scenes[args.scene] if args.scene else shot_scene(args.shot)
        shot = scene.get("aipipe_shot") or {}
        frame = args.frame if args.frame is not None else (shot.get("cut_in") or scene.frame_current)
        with tempfile.TemporaryDirectory(prefix="aipipe-control-") as folder:
            result = render_control_images(scene, folder, "control", (args.kind,), args.bits, frame)
            os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
            shutil.move(result.paths[args.kind], args.output)  # may cross filesystems
    except (KeyError, RuntimeError, ValueError, OSError) as exc:
        sys.stderr.write(f"control image failed: {exc}\n")
        return 2
    report = {
        "path": args.output,
        "kind": args.kind,
        "width": result.width,
        "height": result.height,
        "frame": result.frame,
        "camera": scene.camera.name if scene.camera else "",
        "scene": scene.name,
        "seconds": round(time.perf_counter() - started, 3),
    }
    sys.stdout.write(json.dumps(report) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
