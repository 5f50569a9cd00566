"""The Camera panel: solve from the first frame, what the solve found, corrections, fSpy in and out."""

from __future__ import annotations

import bpy

from ..connect.ui import SidebarPanel
from ..i18n import iface
from ..registry import register_classes, unregister_classes
from . import apply

CASES = {
    "three_point": "Three vanishing points",
    "two_point": "Two vanishing points",
    "one_point": "One vanishing point",
    "none": "No vanishing points",
}


class AIPIPE_PT_camera(SidebarPanel, bpy.types.Panel):
    bl_idname = "AIPIPE_PT_camera"
    bl_label = "Camera from first frame"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        scene = context.scene
        settings = scene.aipipe_camera
        row = layout.row(align=True)
        row.operator("aipipe.camera_solve", icon="CAMERA_DATA")
        row.operator("aipipe.camera_use_stored", text="", icon="IMPORT")
        solution = apply.stored_solution(scene.camera)
        if solution is not None:
            box = layout.box()
            box.label(
                text=iface(
                    "{case}: {lens} mm, pitch {pitch}°, roll {roll}°",
                    case=iface(CASES.get(str(solution.get("case")), "No vanishing points")),
                    lens=f"{scene.camera.data.lens:.1f}",
                    pitch=f"{solution.get('pitch_deg', 0.0):.1f}",
                    roll=f"{solution.get('roll_deg', 0.0):.1f}",
                ),
                icon="CHECKMARK" if solution.get("accepted") else "ERROR",
            )
            box.label(text=iface("Confidence {value}", value=f"{solution.get('confidence', 0.0):.2f}"))
            if solution.get("refusal_text"):
                box.label(text=iface("Focal length from the preset"), icon="INFO")
            box.prop(settings, "overlay")
            box.operator("aipipe.camera_clear_solution", icon="X")
        column = layout.column(heading=iface("Hold for re-solve"))
        row = column.row(align=True)
        row.prop(settings, "hold_focal", text="")
        sub = row.row()
        sub.enabled = settings.hold_focal
        sub.prop(settings, "focal_mm")
        row = column.row(align=True)
        row.prop(settings, "hold_horizon")
        row.operator("aipipe.camera_pick_horizon", text="", icon="EYEDROPPER")
        sub = column.column(align=True)
        sub.enabled = settings.hold_horizon
        sub.prop(settings, "horizon_left")
        sub.prop(settings, "horizon_right")
        row = column.row(align=True)
        row.label(text=iface("Vanishing lines: {count}", count=len(settings.lines)))
        for axis in ("x", "y", "z"):
            row.operator("aipipe.camera_draw_line", text=axis.upper()).axis = axis
        row.operator("aipipe.camera_clear_lines", text="", icon="X")
        column.operator("aipipe.camera_drag", icon="ARROW_LEFTRIGHT")
        layout.prop(settings, "eye_height")
        row = layout.row(align=True)
        row.operator("aipipe.camera_fspy_import", icon="IMPORT")
        row.operator("aipipe.camera_fspy_export", icon="EXPORT")


CLASSES = (AIPIPE_PT_camera,)


def register() -> None:
    register_classes(CLASSES)


def unregister() -> None:
    unregister_classes(CLASSES)
