"""The 3D View sidebar panel "Shot list (Excel)": export, then preview an edited file, tick, apply."""

from __future__ import annotations

from typing import Any

import bpy

from .. import runtime
from ..connect.ui import SidebarPanel
from ..registry import register_classes, unregister_classes
from ..uilist import RowList

ICONS = {"added": "ADD", "changed": "GREASEPENCIL", "removed": "REMOVE"}


class AIPIPE_UL_shotlist_lines(RowList, bpy.types.UIList):
    bl_idname = "AIPIPE_UL_shotlist_lines"

    def draw_row(self, row: Any, item: Any) -> None:
        row.prop(item, "use", text="")
        icon = "ERROR" if item.conflict else ICONS.get(item.action, "DOT")
        row.label(text=item.label, icon=icon)


class AIPIPE_PT_shotlist(SidebarPanel, bpy.types.Panel):
    bl_idname = "AIPIPE_PT_shotlist"
    bl_label = "Shot list (Excel)"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context: Any) -> None:
        layout = self.layout
        if not runtime.is_online():
            layout.label(text="Log in to use the shot list", icon="INFO")
            return
        state = context.window_manager.aipipe_shotlist
        box = layout.box()
        row = box.row(align=True)
        row.prop(state, "export_kind", text="")
        row.prop(state, "export_format", text="")
        box.prop(state, "export_folder")
        box.operator("aipipe.shotlist_export", icon="EXPORT")
        layout.prop(state, "file_path")
        layout.operator("aipipe.shotlist_preview", icon="VIEWZOOM")
        if not state.previewed:
            return
        layout.label(text=state.summary, icon="INFO" if state.can_apply else "ERROR")
        for line in state.problems.splitlines()[:8]:
            layout.label(text=line[:140], icon="ERROR" if line.startswith("Error") else "INFO")
        layout.template_list("AIPIPE_UL_shotlist_lines", "", state, "lines", state, "line_index", rows=8)
        layout.operator("aipipe.shotlist_apply", icon="CHECKMARK")


CLASSES = (AIPIPE_UL_shotlist_lines, AIPIPE_PT_shotlist)


def register() -> None:
    register_classes(CLASSES)


def unregister() -> None:
    unregister_classes(CLASSES)
