"""The Render panel: workflow, priority, parameters, the shot's jobs with live progress."""

from __future__ import annotations

import bpy

from .. import runtime
from ..connect.ui import SidebarPanel
from ..registry import register_classes, unregister_classes
from . import opsdata


class AIPIPE_PT_render(SidebarPanel, bpy.types.Panel):
    bl_idname = "AIPIPE_PT_render"
    bl_label = "Send to render"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        settings = context.window_manager.aipipe_render
        row = layout.row(align=True)
        row.prop(settings, "workflow", text="")
        row.operator("aipipe.render_refresh", text="", icon="FILE_REFRESH")
        layout.prop(settings, "priority")
        layout.prop(settings, "seed")
        layout.prop(settings, "params")
        layout.operator("aipipe.render_send", icon="RENDER_RESULT")
        if not runtime.is_ready():
            return
        shot_id = context.scene.aipipe_shot.shot_id or context.window_manager.aipipe.form.shot_id
        jobs = [j for j in runtime.get().table("jobs").values() if str(j.get("shot_id")) == shot_id]
        for job in sorted(jobs, key=lambda j: str(j.get("created_at")), reverse=True)[:5]:
            box = layout.box()
            box.label(text=opsdata.job_line(job), icon="SORTTIME" if opsdata.is_active(job) else "CHECKMARK")
            if job.get("version_id"):
                row = box.row(align=True)
                for target, label in (("VSE", "Into sequencer"), ("CAMERA", "As camera background")):
                    op = row.operator("aipipe.render_load_result", text=label)
                    op.version_id, op.target = str(job["version_id"]), target


CLASSES = (AIPIPE_PT_render,)


def register() -> None:
    register_classes(CLASSES)


def unregister() -> None:
    unregister_classes(CLASSES)
