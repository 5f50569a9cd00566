"""Shot list (UIList with code, status, duration, thumbnail, filter) and the details form."""

from __future__ import annotations

from typing import Any

import bpy

from .. import runtime
from ..connect.ui import WRAP_WIDTH, SidebarPanel
from ..editorial.render_ready import ensure_recipes
from ..i18n import iface
from ..registry import register_classes, unregister_classes
from . import history, ops, opsdata, thumbnails


class AIPIPE_UL_shots(bpy.types.UIList):
    def draw_item(
        self, context: Any, layout: Any, data: Any, item: Any, icon: Any, active_data: Any, active_prop: Any
    ) -> None:
        project = ops.project() or {}
        row = layout.row(align=True)
        icon_value = thumbnails.icon_for(item.id)
        if icon_value:
            row.label(text=item.code, icon_value=icon_value)
        else:
            row.label(text=item.code, icon="LOCKED" if item.locked else "SEQUENCE")
        row.label(text=item.status)
        row.label(
            text=opsdata.duration_label(
                item.duration_frames, project.get("fps_num", 24), project.get("fps_den", 1)
            )
        )

    def filter_items(self, context: Any, data: Any, propname: str) -> tuple[list[int], list[int]]:
        items = getattr(data, propname)
        text = self.filter_name
        flags = [
            self.bitflag_filter_item
            if opsdata.matches({"code": i.code, "status": i.status, "description": i.description}, text)
            else 0
            for i in items
        ]
        if self.use_filter_invert:
            flags = [self.bitflag_filter_item ^ f for f in flags]
        return flags, []


class AIPIPE_PT_shots(SidebarPanel, bpy.types.Panel):
    bl_idname = "AIPIPE_PT_shots"
    bl_label = "Shots"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        if not runtime.is_online():
            layout.label(text="Log in to browse shots", icon="INFO")
            return
        state = context.window_manager.aipipe
        row = layout.row(align=True)
        row.prop(state, "project", text="")
        row.operator("aipipe.shots_refresh", text="", icon="FILE_REFRESH")
        layout.template_list("AIPIPE_UL_shots", "", state, "shots", state, "shot_index", rows=6)


class AIPIPE_PT_shot_details(SidebarPanel, bpy.types.Panel):
    bl_idname = "AIPIPE_PT_shot_details"
    bl_label = "Shot details"
    bl_parent_id = "AIPIPE_PT_shots"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return runtime.is_online() and bool(context.window_manager.aipipe.form.shot_id)

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        form = context.window_manager.aipipe.form
        layout.label(
            text=iface("{shot}  (revision {revision})", shot=form.code, revision=form.revision),
            translate=False,
        )
        if form.conflict:
            box = layout.box()
            box.alert = True
            box.label(
                text=iface("Changed on the server too: {fields}", fields=form.conflict_fields),
                icon="ERROR",
                translate=False,
            )
            row = box.row()
            row.operator("aipipe.shots_conflict_reload", icon="FILE_REFRESH")
            row.operator("aipipe.shots_conflict_overwrite", icon="ERROR")
        elif form.changed_on_server:
            layout.label(text="Someone changed this shot; saving will merge", icon="INFO")
        col = layout.column()
        col.prop(form, "description")
        col.prop(form, "action")
        col.prop(form, "duration_frames")
        col.prop(form, "preset")
        col.prop(form, "environment")
        ensure_recipes(runtime.get(), runtime.current_project_id())
        col.prop(form, "recipe")
        box = col.box()
        box.label(text="Subjects")
        for index, subject in enumerate(form.subjects):
            row = box.row(align=True)
            row.prop(subject, "character", text="")
            row.prop(subject, "clothing", text="")
            row.operator("aipipe.shots_subject_remove", text="", icon="X").index = index
        box.operator("aipipe.shots_subject_add", icon="ADD")
        layout.operator("aipipe.shots_save", icon="CHECKMARK")
        history.draw(layout, WRAP_WIDTH)


CLASSES = (AIPIPE_UL_shots, AIPIPE_PT_shots, AIPIPE_PT_shot_details)


def register() -> None:
    register_classes(CLASSES)


def unregister() -> None:
    unregister_classes(CLASSES)
