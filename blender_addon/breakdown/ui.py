"""The 3D View sidebar panel "Script breakdown": script, draft review (accept / drop each item), apply,
Create edit."""

from __future__ import annotations

from typing import Any

import bpy

from .. import runtime
from ..connect.ui import SidebarPanel
from ..registry import register_classes, unregister_classes
from ..uilist import RowList

ICONS = {"Character": "USER", "Environment": "WORLD", "Scene": "SCENE_DATA", "Shot": "SEQUENCE"}
DECISION_ICONS = {"accepted": "CHECKMARK", "dropped": "X", "pending": "DOT"}


class AIPIPE_UL_breakdown_rows(RowList, bpy.types.UIList):
    bl_idname = "AIPIPE_UL_breakdown_rows"

    def draw_row(self, row: Any, item: Any) -> None:
        row.label(text=f"{item.item_id}  {item.label}", translate=False, icon=ICONS.get(item.kind, "DOT"))
        if item.merge_into:
            row.label(text=f"→ {item.merge_into}", translate=False, icon="LINKED")
        row.label(text="", icon=DECISION_ICONS.get(item.decision, "DOT"))
        if item.decision != "accepted":
            op = row.operator("aipipe.breakdown_decide", text="", icon="CHECKMARK")
            op.item_id, op.decision = item.item_id, "accepted"
        if item.decision != "dropped":
            op = row.operator("aipipe.breakdown_decide", text="", icon="X")
            op.item_id, op.decision = item.item_id, "dropped"


class AIPIPE_PT_breakdown(SidebarPanel, bpy.types.Panel):
    bl_idname = "AIPIPE_PT_breakdown"
    bl_label = "Script breakdown"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context: Any) -> None:
        layout = self.layout
        if not runtime.is_online():
            layout.label(text="Log in to break a script down", icon="INFO")
            return
        state = context.window_manager.aipipe_breakdown
        layout.prop_search(state, "text_name", bpy.data, "texts", text="Script")
        row = layout.row(align=True)
        row.prop(state, "format", text="")
        row.prop(state, "engine", text="")
        layout.operator("aipipe.breakdown_analyse", icon="TEXT")
        if not state.draft_id:
            return
        layout.label(text=state.summary, icon="INFO")
        layout.template_list("AIPIPE_UL_breakdown_rows", "", state, "rows", state, "row_index", rows=8)
        if 0 <= state.row_index < len(state.rows):
            selected = state.rows[state.row_index]
            row = layout.row(align=True)
            row.label(text=selected.detail[:120])
            row.operator(
                "aipipe.breakdown_edit_item", text="", icon="GREASEPENCIL"
            ).item_id = selected.item_id
        row = layout.row(align=True)
        row.operator("aipipe.breakdown_apply", icon="CHECKMARK")
        row.operator("aipipe.breakdown_create_edit", icon="SEQ_SEQUENCER")


CLASSES = (AIPIPE_UL_breakdown_rows, AIPIPE_PT_breakdown)


def register() -> None:
    register_classes(CLASSES)


def unregister() -> None:
    unregister_classes(CLASSES)
