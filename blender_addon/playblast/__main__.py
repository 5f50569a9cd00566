"""Headless playblast of a .blend, for the render farm and scripts:

    python -m blender_addon.playblast SHOT.blend --output out.mp4 [--scene NAME] [--start N --end N]
        [--shot SHT_0010 --version v003 --artist rina] [--thumbnail thumb.jpg --thumbnail-frame N]

Run with an interpreter that has the `bpy` module (or `blender -b --python-expr` importing this). Prints
one JSON object on stdout: path, frames, frame_start, frame_end, method, thumbnail. Exit status 2 on bad
arguments or a failed render, with the reason on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

import bpy

from .opsdata import Burnins
from .render import PlayblastSpec, render_playblast


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m blender_addon.playblast", description=__doc__)
    parser.add_argument("blend")
    parser.add_argument("--output", required=True)
    parser.add_argument("--scene")
    parser.add_argument("--start", type=int)
    parser.add_argument("--end", type=int)
    parser.add_argument("--shot", default="")
    parser.add_argument("--version", default="")
    parser.add_argument("--artist", default="")
    parser.add_argument("--thumbnail")
    parser.add_argument("--thumbnail-frame", type=int)
    parser.add_argument("--resolution-percentage", type=int, default=100)
    args = parser.parse_args(argv)
    try:
        bpy.ops.wm.open_mainfile(filepath=args.blend)
        scene = bpy.data.scenes[args.scene] if args.scene else bpy.context.scene
        shot = scene.get("aipipe_shot") or {}
        cut_in, cut_out = shot.get("cut_in", 0), shot.get("cut_out", 0)
        start = args.start if args.start is not None else (cut_in or None)
        end = args.end if args.end is not None else (cut_out or None)
        spec = PlayblastSpec(
            output=args.output,
            frame_start=start,
            frame_end=end,
            burnins=Burnins(args.shot or shot.get("shot_code", ""), args.version, args.artist),
            thumbnail=args.thumbnail,
            thumbnail_frame=args.thumbnail_frame,
            resolution_percentage=args.resolution_percentage,
            viewport=False,
        )
        result = render_playblast(scene, spec)
    except (KeyError, RuntimeError, ValueError) as exc:
        sys.stderr.write(f"playblast failed: {exc}\n")
        return 2
    sys.stdout.write(json.dumps(asdict(result)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
