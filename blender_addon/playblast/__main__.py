"""Headless playblast of a .blend, for the render farm and scripts:

    python -m blender_addon.playblast SHOT.blend --output out.mp4 [--scene NAME] [--start N --end N]
        [--shot SHT_0010 --version v003 --artist rina] [--thumbnail thumb.jpg --thumbnail-frame N]
        [--depth-video depth.mp4 --depth-fps 16 --depth-frames 81 --depth-size 832x480]

Run with an interpreter that has the `bpy` module (or `blender -b --python-expr` importing this). Prints
one JSON object on stdout: path, frames, frame_start, frame_end, method, thumbnail (and depth_video: path,
frames, fps, width, height, scene_frames with --depth-video: the layout's depth video from the first frame
rendered, at the workflow's rate; see depth_video.py). Exit status 2 on bad
arguments or a failed render, with the reason on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

import bpy

from .depth_video import DepthVideoSpec, render_depth_video
from .opsdata import Burnins
from .render import PlayblastSpec, render_playblast


def shot_scene(shot_code: str) -> bpy.types.Scene:
    """Without --scene: the active scene if it is a shot's layout, else the layout scene of `shot_code`,
    else the first layout scene, else the active one. A layout saved headless (or while another scene
    was shown) keeps Blender's empty default scene active; rendering that gives a black 1920x1080 movie."""

    def code_of(scene: bpy.types.Scene) -> str:
        context = scene.get("aipipe_shot")
        return str(context.get("shot_code", "")) if context is not None else ""

    active = bpy.context.scene
    if code_of(active):
        return active
    layouts = [scene for scene in bpy.data.scenes if code_of(scene)]
    chosen = [scene for scene in layouts if code_of(scene) == shot_code] or layouts
    return chosen[0] if chosen else active


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
    parser.add_argument("--depth-video", help="also render the depth video of the layout to this .mp4")
    parser.add_argument("--depth-fps", type=int, default=16)
    parser.add_argument("--depth-frames", type=int, help="default: as many as cover the playblast's range")
    parser.add_argument("--depth-size", help="WIDTHxHEIGHT; default: the scene's")
    args = parser.parse_args(argv)
    try:
        bpy.ops.wm.open_mainfile(filepath=args.blend)
        scene = bpy.data.scenes[args.scene] if args.scene else shot_scene(args.shot)
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
        out = asdict(result)
        if args.depth_video:
            width, height = (int(v) for v in args.depth_size.split("x")) if args.depth_size else (None, None)
            depth = DepthVideoSpec(
                args.depth_video, args.depth_fps, args.depth_frames, result.frame_start, result.frame_end
            )
            depth.width, depth.height = width, height
            out["depth_video"] = asdict(render_depth_video(scene, depth))
    except (KeyError, RuntimeError, ValueError) as exc:
        sys.stderr.write(f"playblast failed: {exc}\n")
        return 2
    sys.stdout.write(json.dumps(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
