"""Add-on preferences: the server URL, where this workstation mounts the storage root, the work folder."""

from __future__ import annotations

import os

import bpy
from bpy.props import CollectionProperty, FloatProperty, IntProperty, StringProperty

from .. import runtime
from ..registry import register_classes, unregister_classes


class AIPIPE_PG_path_mapping(bpy.types.PropertyGroup):
    linux: StringProperty(name="Linux", subtype="DIR_PATH")  # type: ignore[valid-type]
    windows: StringProperty(name="Windows", subtype="DIR_PATH")  # type: ignore[valid-type]
    darwin: StringProperty(name="macOS", subtype="DIR_PATH")  # type: ignore[valid-type]


class AIPIPE_AP_preferences(bpy.types.AddonPreferences):
    bl_idname = runtime.ADDON_ID

    server_url: StringProperty(  # type: ignore[valid-type]
        name="Server URL", description="The AIPipeline sync server, e.g. https://pipeline.studio.lan"
    )
    timeout_s: FloatProperty(  # type: ignore[valid-type]
        name="Network timeout (s)", default=30.0, min=1.0, max=600.0
    )
    path_mappings: CollectionProperty(type=AIPIPE_PG_path_mapping)  # type: ignore[valid-type]
    path_mapping_index: IntProperty()  # type: ignore[valid-type]
    work_root: StringProperty(  # type: ignore[valid-type]
        name="Work folder",
        description="Where layout files are saved before they are published (mirrors the production tree)",
        subtype="DIR_PATH",
    )

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.prop(self, "server_url")
        layout.prop(self, "timeout_s")
        layout.prop(self, "work_root")
        box = layout.box()
        box.label(text="Storage root on this workstation (empty: use the server's mapping)")
        for index, mapping in enumerate(self.path_mappings):
            row = box.row(align=True)
            row.prop(mapping, "linux")
            row.prop(mapping, "windows")
            row.prop(mapping, "darwin")
            op = row.operator("aipipe.connect_mapping_remove", text="", icon="X")
            op.index = index
        box.operator("aipipe.connect_mapping_add", icon="ADD")


def mappings() -> list[dict[str, str]]:
    """This workstation's mappings from the preferences (server defaults are merged by the caller)."""
    prefs = runtime.preferences()
    if prefs is None:
        return []
    return [
        {k: getattr(m, k) for k in ("linux", "windows", "darwin") if getattr(m, k)}
        for m in prefs.path_mappings
    ]


def work_root() -> str:
    prefs = runtime.preferences()
    chosen = bpy.path.abspath(prefs.work_root) if prefs and prefs.work_root else ""
    return chosen or os.path.join(os.path.expanduser("~"), "aipipeline_work")


CLASSES = (AIPIPE_PG_path_mapping, AIPIPE_AP_preferences)


def register() -> None:
    register_classes(CLASSES)


def unregister() -> None:
    unregister_classes(CLASSES)
