"""The "AIPipeline" sidebar tab in the 3D View: connection status, running work, messages."""

from __future__ import annotations

from typing import Any

import bpy

from .. import runtime
from ..core.textwrap import wrap
from ..i18n import iface
from ..registry import OFFLINE_MESSAGE, online_access, register_classes, unregister_classes

CATEGORY = "AIPipeline"
WRAP_WIDTH = 48  # display columns of a message line in the sidebar


class SidebarPanel:
    """Mixin for a panel in the 3D View sidebar's "AIPipeline" tab
    (`class AIPIPE_PT_x(SidebarPanel, bpy.types.Panel)`)."""

    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = CATEGORY


class SequencerPanel:
    """Mixin for a panel in the Video Sequencer sidebar's "AIPipeline" tab."""

    bl_space_type = "SEQUENCE_EDITOR"
    bl_region_type = "UI"
    bl_category = CATEGORY


class ImageEditorPanel:
    """Mixin for a panel in the Image Editor sidebar's "AIPipeline" tab."""

    bl_space_type = "IMAGE_EDITOR"
    bl_region_type = "UI"
    bl_category = CATEGORY


class AIPIPE_PT_connection(SidebarPanel, bpy.types.Panel):
    bl_idname = "AIPIPE_PT_connection"
    bl_label = "Connection"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        if not runtime.is_ready():
            layout.label(text="Add-on not running", icon="ERROR")
            return
        rt = runtime.get()
        if rt.online and rt.client is not None:
            user = rt.user or {}
            layout.label(
                text=f"{user.get('username', '?')} ({user.get('role', '')})", icon="USER", translate=False
            )
            layout.label(text=rt.client.base_url, icon="URL")
            if rt.live:
                layout.label(
                    text=iface("Live updates: {state}", state=rt.live),
                    icon="LINKED" if rt.live == "live" else "UNLINKED",
                    translate=False,
                )
            layout.operator("aipipe.connect_logout", icon="UNLINKED")
        elif not online_access():
            for line in wrap(iface(OFFLINE_MESSAGE), WRAP_WIDTH):
                layout.label(text=line, icon="INTERNET_OFFLINE", translate=False)
        else:
            layout.label(text="Logging in…" if rt.state == "connecting" else "Not logged in", icon="UNLINKED")
            layout.operator("aipipe.connect_login", icon="LINKED")
        draw_activity(layout, rt)


def draw_activity(layout: bpy.types.UILayout, rt: runtime.Runtime) -> None:
    """Running tasks with their progress, then the last message (errors carry the server's words)."""
    busy = rt.worker.busy
    for task in busy[:4]:
        row = layout.row()
        text = f"{iface(task.label)} {int(task.progress * 100)}% {task.text}".strip()
        row.label(text=text, icon="SORTTIME", translate=False)
    if busy:
        layout.operator("aipipe.connect_cancel_tasks", icon="CANCEL")
    if rt.message.text:
        icon: Any = {"ERROR": "ERROR", "WARNING": "ERROR"}.get(rt.message.level, "INFO")
        box = layout.box()
        for line in wrap(iface(rt.message.text), WRAP_WIDTH):
            box.label(text=line, icon=icon, translate=False)
            icon = "BLANK1"


CLASSES = (AIPIPE_PT_connection,)


def register() -> None:
    register_classes(CLASSES)


def unregister() -> None:
    unregister_classes(CLASSES)
