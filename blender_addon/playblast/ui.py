"""The Playblast panel."""

from __future__ import annotations

import bpy

from ..connect.ui import CATEGORY
from ..registry import register_classes, unregister_classes


class AIPIPE_PT_playblast(bpy.types.Panel):
    bl_idname = "AIPIPE_PT_playblast"
    bl_label = "Playblast"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = CATEGORY

    def draw(self, context: bpy.types.Context) -> None:
        self.layout.operator("aipipe.playblast_create", icon="RENDER_ANIMATION")


CLASSES = (AIPIPE_PT_playblast,)


def register() -> None:
    register_classes(CLASSES)


def unregister() -> None:
    unregister_classes(CLASSES)
