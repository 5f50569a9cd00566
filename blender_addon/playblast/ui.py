"""The Playblast panel."""

from __future__ import annotations

import bpy

from ..connect.ui import SidebarPanel
from ..registry import register_classes, unregister_classes


class AIPIPE_PT_playblast(SidebarPanel, bpy.types.Panel):
    bl_idname = "AIPIPE_PT_playblast"
    bl_label = "Playblast"

    def draw(self, context: bpy.types.Context) -> None:
        self.layout.operator("aipipe.playblast_create", icon="RENDER_ANIMATION")
        self.layout.operator("aipipe.playblast_depth_video", icon="SEQUENCE")


CLASSES = (AIPIPE_PT_playblast,)


def register() -> None:
    register_classes(CLASSES)


def unregister() -> None:
    unregister_classes(CLASSES)
