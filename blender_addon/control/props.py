"""Window-manager state of the control-input panels (not saved in .blend files): which control images to
render, the shot's takes (for masks), the picked character and its reference images."""

from __future__ import annotations

from typing import Any

import bpy
from bpy.props import BoolProperty, CollectionProperty, EnumProperty, IntProperty, StringProperty

from ..registry import register_properties, unregister_properties


def _character_items(self: Any, context: Any) -> list[tuple[str, str, str]]:
    from ..shots.props import character_items

    return character_items(self, context)


def _character_changed(self: Any, context: Any) -> None:
    from . import references

    references.load(self.character if self.character != "NONE" else "")


class AIPIPE_PG_control_take(bpy.types.PropertyGroup):
    id: StringProperty()  # type: ignore[valid-type]
    code: StringProperty()  # type: ignore[valid-type]
    label: StringProperty()  # type: ignore[valid-type]


class AIPIPE_PG_control_reference(bpy.types.PropertyGroup):
    id: StringProperty()  # type: ignore[valid-type]
    label: StringProperty()  # type: ignore[valid-type]


class AIPIPE_PG_control(bpy.types.PropertyGroup):
    depth: BoolProperty(  # type: ignore[valid-type]
        name="Depth", description="A depth image: near is white, far is black", default=True
    )
    canny: BoolProperty(  # type: ignore[valid-type]
        name="Lines", description="A line image: white outlines and folds on black", default=True
    )
    pose: BoolProperty(  # type: ignore[valid-type]
        name="Pose",
        description="A pose image of the character rigs (OpenPose colours), from their bones at the frame",
    )
    depth_16bit: BoolProperty(  # type: ignore[valid-type]
        name="16-bit depth", description="Write the depth image with 16 bits instead of 8"
    )
    takes_shot_id: StringProperty()  # type: ignore[valid-type]
    takes: CollectionProperty(type=AIPIPE_PG_control_take)  # type: ignore[valid-type]
    take_index: IntProperty(default=-1)  # type: ignore[valid-type]
    character: EnumProperty(  # type: ignore[valid-type]
        name="Character", items=_character_items, update=_character_changed
    )
    references: CollectionProperty(type=AIPIPE_PG_control_reference)  # type: ignore[valid-type]
    reference_index: IntProperty(default=-1)  # type: ignore[valid-type]


CLASSES = (AIPIPE_PG_control_take, AIPIPE_PG_control_reference, AIPIPE_PG_control)
POINTERS = ((bpy.types.WindowManager, "aipipe_control", AIPIPE_PG_control),)


def register() -> None:
    register_properties(CLASSES, POINTERS)


def unregister() -> None:
    unregister_properties(CLASSES, POINTERS)
