"""Editorial settings of a scene (saved in the .blend) and the pending push (window manager, not saved)."""

from __future__ import annotations

import bpy
from bpy.props import CollectionProperty, EnumProperty, IntProperty, StringProperty

from ..registry import register_properties, unregister_properties

FORMATS = (
    ("cmx_3600", "EDL (CMX 3600)", "Edit decision list"),
    ("fcp_xml", "FCP 7 XML", "Final Cut Pro 7 XML interchange"),
    ("otio", "OpenTimelineIO", "OTIO JSON"),
)


class AIPIPE_PG_change_line(bpy.types.PropertyGroup):
    text: StringProperty()  # type: ignore[valid-type]


class AIPIPE_PG_editorial(bpy.types.PropertyGroup):
    picture_channel: IntProperty(name="Picture channel", default=2, min=1, max=120)  # type: ignore[valid-type]
    start_frame: IntProperty(name="Start frame", default=1, min=0)  # type: ignore[valid-type]
    audio_channel: IntProperty(name="Audio channel", default=1, min=1, max=128)  # type: ignore[valid-type]
    export_format: EnumProperty(name="Format", items=FORMATS, default="cmx_3600")  # type: ignore[valid-type]
    export_path: StringProperty(name="File", subtype="FILE_PATH", default="//edit.edl")  # type: ignore[valid-type]
    record_start: StringProperty(name="Record start", default="01:00:00:00")  # type: ignore[valid-type]
    render_path: StringProperty(name="Movie", subtype="FILE_PATH", default="//vse_render.mp4")  # type: ignore[valid-type]


class AIPIPE_PG_editorial_session(bpy.types.PropertyGroup):
    """What Push edit would change (checked by the server), until it is applied or discarded."""

    project_id: StringProperty()  # type: ignore[valid-type]
    change_lines: CollectionProperty(type=AIPIPE_PG_change_line)  # type: ignore[valid-type]
    proxy_status: StringProperty()  # type: ignore[valid-type]


CLASSES = (AIPIPE_PG_change_line, AIPIPE_PG_editorial, AIPIPE_PG_editorial_session)
POINTERS = (
    (bpy.types.Scene, "aipipe_editorial", AIPIPE_PG_editorial),
    (bpy.types.WindowManager, "aipipe_editorial", AIPIPE_PG_editorial_session),
)


def session() -> AIPIPE_PG_editorial_session:
    """This window manager's pending push and proxy status."""
    return bpy.context.window_manager.aipipe_editorial


def register() -> None:
    register_properties(CLASSES, POINTERS)


def unregister() -> None:
    unregister_properties(CLASSES, POINTERS)
