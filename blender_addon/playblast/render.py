"""Render a playblast: an H.264 mp4 with burn-ins; the user's render settings are given back afterwards.

Callable without the add-on being registered (the render farm runs it headless, see `__main__.py`):

    result = render_playblast(scene, PlayblastSpec(output="/tmp/SHT_0010_v003.mp4", burnins=Burnins(...)))

With a window it uses the real viewport render (`render.opengl`); in background mode (no OpenGL
context) it renders with Workbench through `render.render`, which looks the same for layout review.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import bpy

from .. import compat
from ..i18n import iface
from ..layout.set25d import set_objects
from .opsdata import Burnins, font_size


@dataclass
class PlayblastSpec:
    output: str  # the .mp4 to write (folders are made)
    frame_start: int | None = None  # default: the scene's range
    frame_end: int | None = None
    burnins: Burnins = field(default_factory=Burnins)
    thumbnail: str | None = None  # also write this JPEG of `thumbnail_frame`
    thumbnail_frame: int | None = None
    resolution_percentage: int = 100
    viewport: bool | None = None  # None: the viewport when Blender has a window, else Workbench


@dataclass
class PlayblastResult:
    path: str
    frames: int
    frame_start: int
    frame_end: int
    method: str  # "viewport" | "workbench"
    thumbnail: str | None
    progress_frames: list[int] = field(default_factory=list)  # the frames the progress indicator showed


def _view3d_override() -> dict[str, Any] | None:
    wm = bpy.context.window_manager
    for window in getattr(wm, "windows", []):
        for area in window.screen.areas:
            if area.type == "VIEW_3D":
                region = next((r for r in area.regions if r.type == "WINDOW"), None)
                if region is not None:
                    return {"window": window, "area": area, "region": region}
    return None


@contextlib.contextmanager
def frame_progress(start: int, end: int) -> Iterator[list[int]]:
    """Blender's progress indicator follows the frames as they are written (the render holds the main
    thread, so nothing else could update it). Yields the frames seen, in order."""
    wm = bpy.context.window_manager
    seen: list[int] = []

    def written(scene: Any, *_args: Any) -> None:
        seen.append(scene.frame_current)
        if wm is not None:
            wm.progress_update(scene.frame_current)

    if wm is not None:
        wm.progress_begin(start, end)
    bpy.app.handlers.render_write.append(written)
    try:
        yield seen
    finally:
        bpy.app.handlers.render_write.remove(written)
        if wm is not None:
            wm.progress_end()


def render_playblast(scene: Any, spec: PlayblastSpec) -> PlayblastResult:
    """Render `scene` to `spec.output`; raises RuntimeError naming the problem when nothing was written."""
    start = scene.frame_start if spec.frame_start is None else spec.frame_start
    end = scene.frame_end if spec.frame_end is None else spec.frame_end
    if end < start:
        raise ValueError(iface("Frame range {first}-{last} is empty", first=start, last=end))
    if scene.camera is None:
        raise RuntimeError(iface("Scene {scene} has no camera to playblast through", scene=scene.name))
    view = _view3d_override() if spec.viewport in (None, True) and not bpy.app.background else None
    if spec.viewport and view is None:
        raise RuntimeError(iface("A viewport playblast needs a Blender window (run without --background)"))
    output = os.path.abspath(spec.output)
    os.makedirs(os.path.dirname(output), exist_ok=True)
    saved = compat.snapshot_render_settings(scene)
    saved_engine_shading = _shading_snapshot(scene)
    try:
        render = scene.render
        scene.frame_start, scene.frame_end = start, end
        render.resolution_percentage = spec.resolution_percentage
        render.filepath = output
        render.use_file_extension = True
        compat.set_ffmpeg_h264(render)
        _burnins(scene, spec.burnins)
        if view is None:
            render.engine = compat.WORKBENCH
            scene.display.shading.light = "STUDIO"
            # A 2.5D set shows its picture (the active image node): texture colour, else material colour.
            scene.display.shading.color_type = "TEXTURE" if set_objects(scene) else "MATERIAL"
            scene.display.render_aa = "FXAA"  # 8-sample AA costs 8x on a CPU (llvmpipe) for a review movie
            with frame_progress(start, end) as written:
                bpy.ops.render.render(animation=True, scene=scene.name)
            method = "workbench"
        else:
            with frame_progress(start, end) as written, bpy.context.temp_override(**view, scene=scene):
                bpy.ops.render.opengl(animation=True, view_context=True)
            method = "viewport"
        if not os.path.isfile(output):
            raise RuntimeError(iface("Blender wrote no movie at {path}", path=output))
        thumbnail = None
        if spec.thumbnail:
            thumbnail = _still(scene, spec.thumbnail, spec.thumbnail_frame or start, view)
    finally:
        compat.restore_render_settings(scene, saved)
        _shading_restore(scene, saved_engine_shading)
    return PlayblastResult(output, end - start + 1, start, end, method, thumbnail, list(written))


def _burnins(scene: Any, burnins: Burnins) -> None:
    render = scene.render
    render.use_stamp = True
    for name in ("use_stamp_date", "use_stamp_frame", "use_stamp_camera", "use_stamp_lens", "use_stamp_note"):
        setattr(render, name, True)
    for name in (
        "use_stamp_time",
        "use_stamp_render_time",
        "use_stamp_frame_range",
        "use_stamp_memory",
        "use_stamp_hostname",
        "use_stamp_marker",
        "use_stamp_filename",
        "use_stamp_scene",
    ):
        setattr(render, name, False)
    render.stamp_note_text = burnins.note()
    render.stamp_font_size = font_size(render.resolution_y * render.resolution_percentage // 100)


def _still(scene: Any, path: str, frame: int, view: dict[str, Any] | None) -> str:
    scene.frame_set(frame)
    compat.set_still_jpeg(scene.render)
    if view is None:
        bpy.ops.render.render(write_still=False, scene=scene.name)
    else:
        with bpy.context.temp_override(**view, scene=scene):
            bpy.ops.render.opengl(view_context=True)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    bpy.data.images["Render Result"].save_render(path, scene=scene)
    return path


def _shading_snapshot(scene: Any) -> tuple[str, str]:
    shading = scene.display.shading
    return shading.light, shading.color_type


def _shading_restore(scene: Any, saved: tuple[str, str]) -> None:
    scene.display.shading.light, scene.display.shading.color_type = saved
