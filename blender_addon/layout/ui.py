"""The Layout panel: set up the selected shot, publish, camera exchange."""

from __future__ import annotations

import bpy

from ..connect.ui import SidebarPanel
from ..i18n import iface
from ..registry import register_classes, unregister_classes


class AIPIPE_PT_layout(SidebarPanel, bpy.types.Panel):
    bl_idname = "AIPIPE_PT_layout"
    bl_label = "Layout"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        shot = context.scene.aipipe_shot
        if shot.shot_code:
            layout.label(
                text=iface(
                    "{shot}: cut {first}-{last}, {lens} mm",
                    shot=shot.shot_code,
                    first=shot.cut_in,
                    last=shot.cut_out,
                    lens=f"{shot.lens_mm:g}",
                ),
                icon="CAMERA_DATA",
            )
        layout.operator("aipipe.layout_setup_shot", icon="SCENE_DATA")
        layout.operator("aipipe.layout_publish", icon="EXPORT")
        row = layout.row(align=True)
        row.operator("aipipe.layout_camera_export", icon="OUTLINER_OB_CAMERA")
        row.operator("aipipe.layout_camera_import", icon="IMPORT")
        layout.operator("aipipe.layout_characters_import", icon="ARMATURE_DATA")
        layout.operator("aipipe.layout_build_set", icon="MOD_DISPLACE")


CLASSES = (AIPIPE_PT_layout,)


def register() -> None:
    register_classes(CLASSES)


def unregister() -> None:
    unregister_classes(CLASSES)
