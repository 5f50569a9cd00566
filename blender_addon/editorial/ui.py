"""The VSE sidebar tab "AIPipeline": edit, takes, push, proxy movie and export."""

from __future__ import annotations

from typing import Any

import bpy

from .. import runtime
from ..connect.ui import WRAP_WIDTH, SequencerPanel, draw_activity
from ..core.textwrap import wrap
from ..i18n import iface
from ..registry import register_classes, unregister_classes
from . import vse


class AIPIPE_PT_editorial(SequencerPanel, bpy.types.Panel):
    bl_idname = "AIPIPE_PT_editorial"
    bl_label = "Edit"

    def draw(self, context: Any) -> None:
        layout = self.layout
        if not runtime.is_online():
            layout.label(text="Log in (3D View > AIPipeline) to build the edit", icon="INFO")
            return
        rt = runtime.get()
        project = rt.table("projects").get(runtime.current_project_id())
        layout.label(text=project["code"] if project else "No project picked", icon="SEQUENCE")
        settings = context.scene.aipipe_editorial
        row = layout.row(align=True)
        row.prop(settings, "picture_channel", text="Channel")
        row.prop(settings, "start_frame", text="Start")
        layout.operator("aipipe.editorial_build", icon="SEQ_SEQUENCER")
        row = layout.row(align=True)
        row.operator("aipipe.editorial_update_media", icon="FILE_REFRESH")
        outdated = sum(1 for s in vse.picture_strips(context.scene) if s.get(vse.OUTDATED))
        if outdated:
            layout.label(
                text=iface("{count} strips show an older version", count=outdated),
                icon="ERROR",
                translate=False,
            )
        box = layout.box()
        box.label(text="Takes")
        row = box.row(align=True)
        row.operator("aipipe.editorial_step_version", text="", icon="TRIA_LEFT").step = -1
        row.operator("aipipe.editorial_takes", icon="NLA_PUSHDOWN")
        row.operator("aipipe.editorial_step_version", text="", icon="TRIA_RIGHT").step = 1
        box.operator("aipipe.editorial_approve_take", icon="CHECKMARK")
        box = layout.box()
        box.label(text="Push to the shot list")
        box.operator("aipipe.editorial_push", icon="EXPORT")
        session = context.window_manager.aipipe_editorial
        for change in session.change_lines:
            for line in wrap(change.text, WRAP_WIDTH):
                box.label(text=line, translate=False)
        box.operator("aipipe.editorial_push_apply", icon="CHECKMARK")
        box = layout.box()
        box.label(text="Movies and exchange")
        box.operator("aipipe.editorial_proxy", icon="RENDER_ANIMATION")
        if session.proxy_status:
            box.label(text=session.proxy_status)
        box.prop(settings, "render_path")
        box.operator("aipipe.editorial_render_vse", icon="RENDER_RESULT")
        box.prop(settings, "export_format")
        box.prop(settings, "export_path")
        box.prop(settings, "record_start")
        box.operator("aipipe.editorial_export", icon="FILE")
        draw_activity(layout, rt)


CLASSES = (AIPIPE_PT_editorial,)


def register() -> None:
    register_classes(CLASSES)


def unregister() -> None:
    unregister_classes(CLASSES)
