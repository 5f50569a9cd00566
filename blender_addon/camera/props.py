"""Per-scene camera-solve settings (saved with the .blend): the corrections the artist holds fixed for a
re-solve, the eye height, and whether the overlay draws. The solution itself is kept on the camera object
(`apply.SOLUTION_KEY`), so undo and saving take it along with the camera."""

from __future__ import annotations

from typing import Any

import bpy
from bpy.props import BoolProperty, CollectionProperty, EnumProperty, FloatProperty, FloatVectorProperty

from ..registry import register_properties, unregister_properties


def _redraw(_self: Any, context: Any) -> None:
    screen = getattr(context, "screen", None)
    for area in screen.areas if screen is not None else ():
        if area.type == "VIEW_3D":
            area.tag_redraw()


class AIPIPE_PG_camera_line(bpy.types.PropertyGroup):
    """A line the artist drew along a scene axis (image pixels, origin top-left), held for a re-solve."""

    axis: EnumProperty(  # type: ignore[valid-type]
        name="Axis",
        description="The scene axis the line runs along",
        items=(("x", "X", "Scene X"), ("y", "Y", "Scene Y"), ("z", "Z", "Scene Z (up)")),
    )
    a: FloatVectorProperty(name="Start", description="Where the line starts (image pixels)", size=2)  # type: ignore[valid-type]
    b: FloatVectorProperty(name="End", description="Where the line ends (image pixels)", size=2)  # type: ignore[valid-type]


class AIPIPE_PG_camera(bpy.types.PropertyGroup):
    hold_focal: BoolProperty(  # type: ignore[valid-type]
        name="Hold focal length",
        description="Re-solve with this focal length held fixed instead of measuring it from the picture",
    )
    focal_mm: FloatProperty(  # type: ignore[valid-type]
        name="Focal length",
        description="The focal length (mm, for the camera's sensor width across the image) held fixed",
        default=35.0,
        min=1.0,
        soft_min=8.0,
        soft_max=300.0,
        unit="CAMERA",
    )
    hold_horizon: BoolProperty(  # type: ignore[valid-type]
        name="Hold horizon",
        description="Re-solve with the horizon held where the two points below put it",
        update=_redraw,
    )
    horizon_left: FloatProperty(  # type: ignore[valid-type]
        name="Horizon at left edge",
        description="Where the horizon meets the image's left edge (pixels from the top)",
        update=_redraw,
    )
    horizon_right: FloatProperty(  # type: ignore[valid-type]
        name="Horizon at right edge",
        description="Where the horizon meets the image's right edge (pixels from the top)",
        update=_redraw,
    )
    lines: CollectionProperty(  # type: ignore[valid-type]
        type=AIPIPE_PG_camera_line,
        name="Vanishing lines",
        description="Lines along scene axes: a re-solve turns the camera so each axis vanishes on its lines",
    )
    eye_height: FloatProperty(  # type: ignore[valid-type]
        name="Camera height",
        description="Height of the camera above the ground (the scene's scale); eye level is 1.6 m",
        default=1.6,
        min=0.01,
        soft_max=100.0,
        unit="LENGTH",
    )
    overlay: BoolProperty(  # type: ignore[valid-type]
        name="Show vanishing lines",
        description="Draw the solve's lines (red X, green Y, blue Z) and the horizon over the camera view",
        default=True,
        update=_redraw,
    )


CLASSES = (AIPIPE_PG_camera_line, AIPIPE_PG_camera)
POINTERS = ((bpy.types.Scene, "aipipe_camera", AIPIPE_PG_camera),)


def register() -> None:
    register_properties(CLASSES, POINTERS)


def unregister() -> None:
    unregister_properties(CLASSES, POINTERS)
