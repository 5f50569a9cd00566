"""Drag the overlay in the camera view: the horizon's ends or middle, the ends of a held line, or the ends
of a line the solve used (which then holds a copy of it). What is dragged is held for the next re-solve;
one drag is one undo step; Esc or a right click puts everything back.

Headless and in scripts the operator runs from a handle name and a point (image pixels, origin top-left):

    bpy.ops.aipipe.camera_drag(handle="horizon:left", to=(0, 330))
    bpy.ops.aipipe.camera_drag(handle="solved:3:b", to=(912, 140))

Interactively (invoke) it waits for a left press near a handle in a 3D View that looks through the camera,
follows the mouse while the button is down and holds the result on release. The press/move/release logic
is `drag_core.DragSession` (tested without Blender).
"""

from __future__ import annotations

from typing import Any

import bpy
from bpy.props import FloatVectorProperty, StringProperty

from ..i18n import iface
from ..registry import register_classes, unregister_classes
from . import apply, apply_core, drag_core, overlay, pick


def solved_lines(scene: Any) -> list[drag_core.Line]:
    solution = apply.stored_solution(scene.camera) if scene.camera is not None else None
    return [
        drag_core.Line(str(line.get("axis", "x")), tuple(line["a"][:2]), tuple(line["b"][:2]))  # type: ignore[arg-type]
        for line in (solution or {}).get("lines") or []
    ]


def shown_horizon(scene: Any, width: float) -> tuple[float, float]:
    """The horizon the overlay shows (held, else the solution's), as y at the left and right edges."""
    settings = scene.aipipe_camera
    if settings.hold_horizon:
        return settings.horizon_left, settings.horizon_right
    solution = apply.stored_solution(scene.camera) if scene.camera is not None else None
    if solution is None:
        return float(scene.render.resolution_y) / 2.0, float(scene.render.resolution_y) / 2.0
    a, b = apply_core.horizon_pixels(solution)
    return drag_core.horizon_edges(a, b, width) or (a[1], b[1])


def read_held(scene: Any) -> drag_core.Held:
    settings = scene.aipipe_camera
    horizon = (settings.horizon_left, settings.horizon_right) if settings.hold_horizon else None
    lines = [drag_core.Line(line.axis, tuple(line.a), tuple(line.b)) for line in settings.lines]  # type: ignore[arg-type]
    return drag_core.Held(horizon, lines)


def write_held(scene: Any, held: drag_core.Held) -> None:
    settings = scene.aipipe_camera
    if held.horizon is not None:
        settings.horizon_left, settings.horizon_right = held.horizon
    settings.hold_horizon = held.horizon is not None
    for index, line in enumerate(held.lines):
        target = settings.lines[index] if index < len(settings.lines) else settings.lines.add()
        target.axis, target.a, target.b = line.axis, line.a, line.b
    while len(settings.lines) > len(held.lines):
        settings.lines.remove(len(settings.lines) - 1)


def _redraw(context: Any) -> None:
    area = getattr(context, "area", None)
    if area is not None:
        area.tag_redraw()


class AIPIPE_OT_camera_drag(bpy.types.Operator):
    """Drag the horizon or a vanishing line's end in the camera view: the re-solve holds what you placed"""

    bl_idname = "aipipe.camera_drag"
    bl_label = "Drag lines"
    bl_options = {"REGISTER", "UNDO"}

    handle: StringProperty(  # type: ignore[valid-type]
        name="Handle",
        description="What is dragged: horizon:left|right|middle, held:<n>:a|b or solved:<n>:a|b",
        options={"SKIP_SAVE"},
    )
    grab: FloatVectorProperty(  # type: ignore[valid-type]
        name="Grabbed at",
        description="Where the handle was grabbed (image pixels; the horizon's middle moves by the drag)",
        size=2,
        default=(-1.0, -1.0),
        options={"SKIP_SAVE"},
    )
    to: FloatVectorProperty(  # type: ignore[valid-type]
        name="To", description="Where the handle is dropped (image pixels)", size=2, options={"SKIP_SAVE"}
    )

    def execute(self, context: Any) -> set[str]:
        scene = context.scene
        width, _height = pick.image_size(scene)
        try:
            kind, index, _end = drag_core.parse_name(self.handle)
        except ValueError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        held, solved = read_held(scene), solved_lines(scene)
        horizon = shown_horizon(scene, width)
        by_name = {h.name: h for h in drag_core.handles(horizon, width, held.lines, solved)}
        handle = by_name.get(self.handle)
        if handle is None:
            count = len(held.lines) if kind == "held" else len(solved)
            self.report(
                {"ERROR"},
                iface("No {kind} line {index}: there are {count}", kind=kind, index=index, count=count),
            )
            return {"CANCELLED"}
        grab = tuple(self.grab) if self.grab[0] >= 0.0 else (handle.x, handle.y)
        write_held(scene, drag_core.drag_to(held, handle, grab, tuple(self.to), width, solved, horizon))  # type: ignore[arg-type]
        self._report_held()
        return {"FINISHED"}

    def _report_held(self) -> None:
        if self.handle.startswith("horizon"):
            self.report({"INFO"}, iface("Horizon held: solve again to use it"))
        else:
            self.report({"INFO"}, iface("Vanishing line held: solve again to use it"))

    def invoke(self, context: Any, _event: Any) -> set[str]:
        if not pick.looks_through_camera(context):
            self.report({"ERROR"}, iface("Look through the camera (Numpad 0) in a 3D View to place the line"))
            return {"CANCELLED"}
        scene = context.scene
        width, _height = pick.image_size(scene)
        self._session = drag_core.DragSession(
            read_held(scene), width, solved_lines(scene), shown_horizon(scene, width)
        )
        context.window_manager.modal_handler_add(self)
        context.workspace.status_text_set(iface("Drag the horizon or a line's end (Esc cancels)"))
        return {"RUNNING_MODAL"}

    def modal(self, context: Any, event: Any) -> set[str]:
        scene, session = context.scene, self._session
        if event.type in {"ESC", "RIGHTMOUSE"}:
            write_held(scene, session.cancel())
            context.workspace.status_text_set(None)
            _redraw(context)
            return {"CANCELLED"}
        found = pick.event_image_point(context, event)
        if event.type == "LEFTMOUSE" and event.value == "PRESS" and found is not None:
            corners = overlay.frame_corners(scene, scene.camera, context.region, context.region_data)
            width, height = pick.image_size(scene)
            if corners is None or not session.press(
                found[2], found[:2], lambda x, y: corners.to_region(x, y, width, height)
            ):
                context.workspace.status_text_set(
                    iface("Nothing to drag here: press on a line's end or the horizon")
                )
            return {"RUNNING_MODAL"}
        if event.type == "MOUSEMOVE" and session.handle is not None and found is not None:
            write_held(scene, session.move(found[:2]))
            _redraw(context)
            return {"RUNNING_MODAL"}
        if event.type == "LEFTMOUSE" and event.value == "RELEASE" and session.handle is not None:
            write_held(scene, session.release())
            context.workspace.status_text_set(None)
            self.handle = session.handle.name
            self._report_held()
            _redraw(context)
            return {"FINISHED"}
        return {"RUNNING_MODAL"} if session.handle is not None else {"PASS_THROUGH"}


CLASSES = (AIPIPE_OT_camera_drag,)


def register() -> None:
    register_classes(CLASSES)


def unregister() -> None:
    unregister_classes(CLASSES)
