"""Place the held horizon by clicking two points on it in the camera view (the artist's correction when the
solve's horizon is off): the line through the two clicks sets 'Horizon at left/right edge' and holds it, so
the next re-solve keeps the camera's pitch and roll on that horizon (the server turns the solution onto it).

Headless and in scripts the operator runs from its two points (image pixels, origin top-left, y down):

    bpy.ops.aipipe.camera_pick_horizon(point_a=(320, 300), point_b=(960, 340))

Interactively (invoke) it waits for two left clicks in a 3D View that looks through the camera; Esc or a
right click cancels. `aipipe.camera_draw_line` does the same for a line along a scene axis (X, Y or Z): the
lines are kept on the scene (`aipipe_camera.lines`) and sent with the re-solve, which turns the camera so
each axis vanishes on its lines; `aipipe.camera_clear_lines` forgets them.
"""

from __future__ import annotations

from typing import Any

import bpy
from bpy.props import EnumProperty, FloatVectorProperty

from ..i18n import iface
from ..registry import register_classes, unregister_classes
from . import apply, apply_core, overlay
from .drag_core import horizon_edges


def region_to_image(
    corners: apply_core.FrameCorners, x: float, y: float, width: int, height: int
) -> tuple[float, float]:
    """Region pixel → image pixel (origin top-left, y down): the inverse of `FrameCorners.to_region`."""
    ax, ay = corners.top_right[0] - corners.top_left[0], corners.top_right[1] - corners.top_left[1]
    bx, by = corners.bottom_left[0] - corners.top_left[0], corners.bottom_left[1] - corners.top_left[1]
    dx, dy = x - corners.top_left[0], y - corners.top_left[1]
    det = ax * by - ay * bx
    if abs(det) < 1e-12:
        raise ValueError("the camera frame has no area in the view")
    u, v = (dx * by - dy * bx) / det, (ax * dy - ay * dx) / det
    return u * width, v * height


def image_size(scene: Any) -> tuple[int, int]:
    """The picture's size as the held horizon counts it (the solved image's, else the render resolution)."""
    camera = scene.camera if scene.camera is not None and scene.camera.type == "CAMERA" else None
    solution = apply.stored_solution(camera) if camera is not None else None
    if solution:
        return int(solution["image_width"]), int(solution["image_height"])
    return int(scene.render.resolution_x), int(scene.render.resolution_y)


def looks_through_camera(context: Any) -> bool:
    """Whether the operator runs in a 3D View that looks through the scene camera (where the overlay is)."""
    region_data = getattr(context, "region_data", None)
    area = context.area
    return not (
        area is None
        or area.type != "VIEW_3D"
        or region_data is None
        or region_data.view_perspective != "CAMERA"
        or context.scene.camera is None
    )


def event_image_point(context: Any, event: Any) -> tuple[float, float, tuple[float, float]] | None:
    """The event's image pixel and region pixel (None where the camera frame is not in the view)."""
    scene = context.scene
    corners = overlay.frame_corners(scene, scene.camera, context.region, context.region_data)
    if corners is None:
        return None
    width, height = image_size(scene)
    try:
        x, y = region_to_image(corners, event.mouse_region_x, event.mouse_region_y, width, height)
    except ValueError:
        return None
    return x, y, (float(event.mouse_region_x), float(event.mouse_region_y))


class TwoClicks:
    """Invoke waits for two left clicks on the camera view and runs `execute` with them as point_a and
    point_b (image pixels); Esc or a right click cancels."""

    def invoke(self, context: Any, _event: Any) -> set[str]:
        if not looks_through_camera(context):
            self.report({"ERROR"}, iface("Look through the camera (Numpad 0) in a 3D View to place the line"))
            return {"CANCELLED"}
        self._points: list[tuple[float, float]] = []
        context.window_manager.modal_handler_add(self)
        context.workspace.status_text_set(iface("Click where the line starts (Esc cancels)"))
        return {"RUNNING_MODAL"}

    def modal(self, context: Any, event: Any) -> set[str]:
        if event.type in {"ESC", "RIGHTMOUSE"}:
            context.workspace.status_text_set(None)
            return {"CANCELLED"}
        if event.type != "LEFTMOUSE" or event.value != "PRESS":
            return {"PASS_THROUGH"}
        found = event_image_point(context, event)
        if found is None:
            return {"RUNNING_MODAL"}
        self._points.append(found[:2])
        if len(self._points) < 2:
            context.workspace.status_text_set(iface("Click where the line ends (Esc cancels)"))
            return {"RUNNING_MODAL"}
        context.workspace.status_text_set(None)
        self.point_a, self.point_b = self._points
        return self.execute(context)


class AIPIPE_OT_camera_pick_horizon(TwoClicks, bpy.types.Operator):
    """Click two points on the picture's horizon in the camera view: the horizon is held there for the next re-solve"""  # noqa: E501 (a tooltip)

    bl_idname = "aipipe.camera_pick_horizon"
    bl_label = "Place horizon"
    bl_options = {"REGISTER", "UNDO"}

    point_a: FloatVectorProperty(  # type: ignore[valid-type]
        name="First point",
        description="A point on the horizon (image pixels from the top-left corner)",
        size=2,
        options={"SKIP_SAVE"},
    )
    point_b: FloatVectorProperty(  # type: ignore[valid-type]
        name="Second point",
        description="Another point on the horizon (image pixels from the top-left corner)",
        size=2,
        options={"SKIP_SAVE"},
    )

    def execute(self, context: Any) -> set[str]:
        scene = context.scene
        width, _height = image_size(scene)
        edges = horizon_edges(self.point_a, self.point_b, width)
        if edges is None:
            self.report({"ERROR"}, iface("The two horizon points must lie apart across the picture"))
            return {"CANCELLED"}
        settings = scene.aipipe_camera
        settings.horizon_left, settings.horizon_right = edges
        settings.hold_horizon = True
        text = "Horizon held at {left} px (left edge) and {right} px (right edge): solve again to use it"
        self.report({"INFO"}, iface(text, left=f"{edges[0]:.1f}", right=f"{edges[1]:.1f}"))
        return {"FINISHED"}


class AIPIPE_OT_camera_draw_line(TwoClicks, bpy.types.Operator):
    """Click two points along an edge of the picture that runs along a scene axis: a re-solve turns the camera so that axis vanishes on the line"""  # noqa: E501 (a tooltip)

    bl_idname = "aipipe.camera_draw_line"
    bl_label = "Draw vanishing line"
    bl_options = {"REGISTER", "UNDO"}

    axis: EnumProperty(  # type: ignore[valid-type]
        name="Axis",
        description="The scene axis the line runs along",
        items=(("x", "X", "Scene X"), ("y", "Y", "Scene Y"), ("z", "Z", "Scene Z (up)")),
    )
    point_a: FloatVectorProperty(  # type: ignore[valid-type]
        name="Start", description="Where the line starts (image pixels)", size=2, options={"SKIP_SAVE"}
    )
    point_b: FloatVectorProperty(  # type: ignore[valid-type]
        name="End", description="Where the line ends (image pixels)", size=2, options={"SKIP_SAVE"}
    )

    def execute(self, context: Any) -> set[str]:
        a, b = tuple(self.point_a), tuple(self.point_b)
        if abs(a[0] - b[0]) < 1.0 and abs(a[1] - b[1]) < 1.0:
            self.report({"ERROR"}, iface("A vanishing line needs two points apart"))
            return {"CANCELLED"}
        settings = context.scene.aipipe_camera
        line = settings.lines.add()
        line.axis, line.a, line.b = self.axis, a, b
        count = sum(1 for held in settings.lines if held.axis == self.axis)
        text = "{count} line(s) held along {axis}: solve again to use them"
        self.report({"INFO"}, iface(text, count=count, axis=self.axis.upper()))
        return {"FINISHED"}


class AIPIPE_OT_camera_clear_lines(bpy.types.Operator):
    """Forget the vanishing lines drawn for the re-solve"""

    bl_idname = "aipipe.camera_clear_lines"
    bl_label = "Clear vanishing lines"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context: Any) -> set[str]:
        context.scene.aipipe_camera.lines.clear()
        return {"FINISHED"}


CLASSES = (AIPIPE_OT_camera_pick_horizon, AIPIPE_OT_camera_draw_line, AIPIPE_OT_camera_clear_lines)


def register() -> None:
    register_classes(CLASSES)


def unregister() -> None:
    unregister_classes(CLASSES)
