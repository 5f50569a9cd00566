"""Window-manager state of the shot-list panel (not saved in .blend files): the file, the diff lines."""

from __future__ import annotations

import bpy
from bpy.props import (
    BoolProperty,
    CollectionProperty,
    EnumProperty,
    IntProperty,
    StringProperty,
)

from ..registry import register_properties, unregister_properties
from . import core


class AIPIPE_PG_shotlist_line(bpy.types.PropertyGroup):
    key: StringProperty()  # type: ignore[valid-type]
    row: IntProperty()  # type: ignore[valid-type]
    code: StringProperty()  # type: ignore[valid-type]
    action: StringProperty()  # type: ignore[valid-type]
    field: StringProperty()  # type: ignore[valid-type]
    old: StringProperty()  # type: ignore[valid-type]
    new: StringProperty()  # type: ignore[valid-type]
    server: StringProperty()  # type: ignore[valid-type]
    conflict: BoolProperty()  # type: ignore[valid-type]
    use: BoolProperty(name="Apply", description="Apply this change")  # type: ignore[valid-type]
    label: StringProperty()  # type: ignore[valid-type]


class AIPIPE_PG_shotlist(bpy.types.PropertyGroup):
    file_path: StringProperty(  # type: ignore[valid-type]
        name="File", description="The edited shot list (xlsx, CSV or JSON)", subtype="FILE_PATH"
    )
    export_folder: StringProperty(name="Folder", subtype="DIR_PATH", default="//")  # type: ignore[valid-type]
    export_format: EnumProperty(  # type: ignore[valid-type]
        name="Format", items=[(f, f.upper(), "") for f in core.FORMATS], default="xlsx"
    )
    export_kind: EnumProperty(  # type: ignore[valid-type]
        name="Export", items=[(k, k.title(), "") for k in core.KINDS], default="shots"
    )
    previewed: StringProperty()  # type: ignore[valid-type]  # the file the lines belong to
    summary: StringProperty()  # type: ignore[valid-type]
    problems: StringProperty()  # type: ignore[valid-type]  # one per line
    can_apply: BoolProperty()  # type: ignore[valid-type]
    lines: CollectionProperty(type=AIPIPE_PG_shotlist_line)  # type: ignore[valid-type]
    line_index: IntProperty(default=0)  # type: ignore[valid-type]


CLASSES = (AIPIPE_PG_shotlist_line, AIPIPE_PG_shotlist)
POINTERS = ((bpy.types.WindowManager, "aipipe_shotlist", AIPIPE_PG_shotlist),)


def register() -> None:
    register_properties(CLASSES, POINTERS)


def unregister() -> None:
    unregister_properties(CLASSES, POINTERS)
