"""Window-manager state of the breakdown panel (not saved in .blend files): the script, the draft's rows."""

from __future__ import annotations

import bpy
from bpy.props import CollectionProperty, EnumProperty, IntProperty, StringProperty

from ..registry import register_properties, unregister_properties

FORMATS = (
    ("AUTO", "Recognise", "Fountain, Korean screenplay (S#1.) or prose, from the text"),
    ("FOUNTAIN", "Fountain", "INT./EXT. headings, character cues"),
    ("KOREAN", "Korean screenplay", "S#1. 골목길 - 밤 headings, 이름: 대사"),
    ("PROSE", "Prose", "Free text (needs the LLM)"),
)
ENGINES = (
    ("AUTO", "Automatic", "The parser for scripts, the LLM for prose"),
    ("PARSER", "Parser", "Deterministic, no model"),
    ("LLM", "LLM", "The server's LLM endpoint"),
)


class AIPIPE_PG_breakdown_row(bpy.types.PropertyGroup):
    item_id: StringProperty()  # type: ignore[valid-type]
    kind: StringProperty()  # type: ignore[valid-type]
    label: StringProperty()  # type: ignore[valid-type]
    detail: StringProperty()  # type: ignore[valid-type]
    decision: StringProperty()  # type: ignore[valid-type]
    merge_into: StringProperty()  # type: ignore[valid-type]


class AIPIPE_PG_breakdown(bpy.types.PropertyGroup):
    text_name: StringProperty(name="Script", description="The text datablock holding the script")  # type: ignore[valid-type]
    format: EnumProperty(name="Format", items=FORMATS, default="AUTO")  # type: ignore[valid-type]
    engine: EnumProperty(name="Engine", items=ENGINES, default="AUTO")  # type: ignore[valid-type]
    draft_id: StringProperty()  # type: ignore[valid-type]
    status: StringProperty()  # type: ignore[valid-type]
    summary: StringProperty()  # type: ignore[valid-type]
    rows: CollectionProperty(type=AIPIPE_PG_breakdown_row)  # type: ignore[valid-type]
    row_index: IntProperty(default=0)  # type: ignore[valid-type]


CLASSES = (AIPIPE_PG_breakdown_row, AIPIPE_PG_breakdown)
POINTERS = ((bpy.types.WindowManager, "aipipe_breakdown", AIPIPE_PG_breakdown),)


def register() -> None:
    register_properties(CLASSES, POINTERS)


def unregister() -> None:
    unregister_properties(CLASSES, POINTERS)
