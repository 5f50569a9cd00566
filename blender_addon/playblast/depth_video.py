"""The layout's depth video: what a control-video workflow (Wan Fun Control, VACE) follows, rendered at the
rate and length the workflow needs (core ComfyUI `LoadVideo` cannot resample).

Each frame is the control feature's depth render (`control.render.render_passes`: Workbench depth pass from
the shot camera, the user's scene untouched) at the scene frame the video's time lands on (the nearest one;
`opsdata.video_frames`). The whole clip is one depth map (`control.maps.depth_map` over all frames at once):
near = white, far and nothing-hit = black, scaled by the clip's nearest and farthest surface, so a surface
keeps its grey from frame to frame instead of flickering with each frame's own range. The grey frames are
encoded by Blender's own FFmpeg (a throw-away scene's sequencer, view transform Standard so the greys pass
through) as H.264 MP4 at exactly `fps`.

    result = render_depth_video(scene, DepthVideoSpec("/tmp/SHT_0010_depth.mp4", fps=16, frames=81))
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

import bpy
import numpy as np

from .. import compat
from ..control import maps, png
from ..control.render import render_passes
from ..i18n import iface
from ..layout.opsdata import blender_fps
from .opsdata import frames_covering, video_frames

TEMP_SCENE = "AIPIPE depth video"


@dataclass
class DepthVideoSpec:
    output: str  # the .mp4 to write (folders are made)
    fps: int = 16  # Wan's rate
    frames: int | None = None  # None: as many as cover `start`-`end`
    start: int | None = None  # scene frame of the video's first frame; default: the scene's start
    end: int | None = None  # with frames None: the last scene frame to cover; default: the scene's end
    width: int | None = None  # default: the scene's render size (at 100 %)
    height: int | None = None


@dataclass
class DepthVideoResult:
    path: str
    frames: int
    fps: int
    width: int
    height: int
    scene_frames: list[int] = field(default_factory=list)
    seconds: float = 0.0


def _encode(folder: str, paths: list[str], output: str, fps: int, width: int, height: int) -> None:
    """The PNG frames as an H.264 MP4 at `fps`, through a throw-away scene's sequencer."""
    temp = bpy.data.scenes.new(TEMP_SCENE)
    try:
        render = temp.render
        render.resolution_x, render.resolution_y, render.resolution_percentage = width, height, 100
        render.fps, render.fps_base = blender_fps(fps, 1)
        temp.frame_start, temp.frame_end = 1, len(paths)
        temp.view_settings.view_transform = "Standard"
        temp.view_settings.look = "None"
        temp.sequencer_colorspace_settings.name = "sRGB"
        strip = compat.vse_strips(temp).new_image("depth", paths[0], 1, 1)
        for path in paths[1:]:
            strip.elements.append(os.path.basename(path))
        strip.frame_final_duration = len(paths)
        render.use_sequencer = True
        render.use_compositing = False
        compat.set_ffmpeg_h264(render)
        render.filepath = output
        render.use_file_extension = False
        render.use_stamp = False
        bpy.ops.render.render(animation=True, scene=temp.name)
    finally:
        bpy.data.scenes.remove(temp)


def render_depth_video(scene: Any, spec: DepthVideoSpec) -> DepthVideoResult:
    """Render the depth video of `scene` seen by its camera; raises RuntimeError when nothing was written."""
    started = time.perf_counter()
    if scene.camera is None:
        raise RuntimeError(iface("Scene {scene} has no camera to playblast through", scene=scene.name))
    start = scene.frame_start if spec.start is None else spec.start
    end = scene.frame_end if spec.end is None else spec.end
    scene_fps = scene.render.fps / scene.render.fps_base
    count = spec.frames or frames_covering(start, end, scene_fps, spec.fps)
    samples = video_frames(scene_fps, start, spec.fps, count)
    render = scene.render
    saved = (render.resolution_x, render.resolution_y)
    current = scene.frame_current
    if spec.width and spec.height:
        render.resolution_x, render.resolution_y = spec.width, spec.height
    width, height = render.resolution_x, render.resolution_y
    if width % 2 or height % 2:
        raise ValueError(
            iface("H.264 needs an even frame size; {width}×{height} is not", width=width, height=height)
        )
    folder = tempfile.mkdtemp(prefix="aipipe-depth-video-")
    try:
        try:
            passes = []
            for frame in samples:
                # The control render's throw-away scene sees the objects as the user's scene last evaluated
                # them: step the scene itself to the frame first, or every frame shows the same pose.
                scene.frame_set(frame)
                passes.append(render_passes(scene, frame).depth)
            depths = np.stack(passes)
        finally:
            render.resolution_x, render.resolution_y = saved
            scene.frame_set(current)
        grey = maps.depth_map(depths, 8)  # one scale for the whole clip: near = white
        paths = [
            png.write_grey(os.path.join(folder, f"depth_{i:05d}.png"), frame) for i, frame in enumerate(grey)
        ]
        output = os.path.abspath(spec.output)
        os.makedirs(os.path.dirname(output), exist_ok=True)
        _encode(folder, paths, output, spec.fps, width, height)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if not os.path.isfile(output):
        raise RuntimeError(iface("Blender wrote no movie at {path}", path=output))
    return DepthVideoResult(output, count, spec.fps, width, height, samples, time.perf_counter() - started)
