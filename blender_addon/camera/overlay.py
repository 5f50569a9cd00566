"""The solve's vanishing lines (red X, green Y, blue Z) and the horizon (yellow) over the camera view.

One `SpaceView3D` POST_PIXEL draw handler, added on register and removed on unregister (its handle lives
in the runtime's extras). It draws only when the view looks through the scene camera, the scene's
`aipipe_camera.overlay` is on and the camera holds a solution; the lines are mapped from image pixels to
the camera frame's corners in the region, so they follow zoom, pan and shift. The GPU batch is made in
the callback (there is no GPU in background Blender); `geometry()` is the part that can be checked there.
"""

from __future__ import annotations

import logging
from typing import Any

import bpy

from .. import runtime
from . import apply, apply_core

log = logging.getLogger(__name__)
HANDLE_KEY = "camera_overlay_handle"
LINE_WIDTH = 2.0


def frame_corners(scene: Any, camera: Any, region: Any, rv3d: Any) -> apply_core.FrameCorners | None:
    """The camera frame's corners in region pixels (None when a corner is behind the view)."""
    from bpy_extras.view3d_utils import location_3d_to_region_2d

    top_right, _bottom_right, bottom_left, top_left = (
        camera.matrix_world @ corner for corner in camera.data.view_frame(scene=scene)
    )
    points = [location_3d_to_region_2d(region, rv3d, p) for p in (top_left, top_right, bottom_left)]
    if any(p is None for p in points):
        return None
    return apply_core.FrameCorners(*(tuple(p) for p in points))


def geometry(scene: Any, corners: apply_core.FrameCorners) -> tuple[list, list] | None:
    """LINES vertices and colours for the scene camera's solution, or None when there is nothing to draw."""
    if not scene.aipipe_camera.overlay:
        return None
    solution = apply.stored_solution(scene.camera)
    if solution is None:
        return None
    positions, colours = apply_core.overlay_vertices(solution, corners, apply.held_horizon(scene, solution))
    # the artist's held vanishing lines (Draw vanishing line), in their axis colour lightened towards white
    width, height = int(solution["image_width"]), int(solution["image_height"])
    for line in scene.aipipe_camera.lines:
        base = apply_core.AXIS_COLOURS[line.axis]
        colour = (*(0.5 + 0.5 * c for c in base[:3]), 1.0)
        for end in (line.a, line.b):
            x, y = corners.to_region(float(end[0]), float(end[1]), width, height)
            positions.append((x, y, 0.0))
            colours.append(colour)
    return positions, colours


def draw() -> None:
    context = bpy.context
    scene, rv3d, region = context.scene, context.region_data, context.region
    if scene is None or scene.camera is None or rv3d is None or rv3d.view_perspective != "CAMERA":
        return
    if scene.camera.type != "CAMERA" or not scene.aipipe_camera.overlay:
        return
    corners = frame_corners(scene, scene.camera, region, rv3d)
    lines = geometry(scene, corners) if corners is not None else None
    if not lines:
        return
    import gpu
    from gpu_extras.batch import batch_for_shader

    shader = gpu.shader.from_builtin("POLYLINE_SMOOTH_COLOR")
    batch = batch_for_shader(shader, "LINES", {"pos": lines[0], "color": lines[1]})
    gpu.state.blend_set("ALPHA")
    shader.bind()
    shader.uniform_float("viewportSize", (region.width, region.height))
    shader.uniform_float("lineWidth", LINE_WIDTH)
    batch.draw(shader)
    gpu.state.blend_set("NONE")


def _draw_safely() -> None:
    try:
        draw()
    except Exception:  # a failing draw callback would repeat on every redraw: log it, draw nothing
        log.exception("AIPipeline: drawing the camera overlay failed")


def handle() -> Any:
    return runtime.get().extras.get(HANDLE_KEY) if runtime.is_ready() else None


def register() -> None:
    extras = runtime.get().extras
    if extras.get(HANDLE_KEY) is None:
        extras[HANDLE_KEY] = bpy.types.SpaceView3D.draw_handler_add(_draw_safely, (), "WINDOW", "POST_PIXEL")


def unregister() -> None:
    if not runtime.is_ready():
        return
    found = runtime.get().extras.pop(HANDLE_KEY, None)
    if found is not None:
        bpy.types.SpaceView3D.draw_handler_remove(found, "WINDOW")
