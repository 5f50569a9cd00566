"""Window-manager state of the image loop (not saved in .blend files): the shots ticked for a batch, the
batch settings, the compared shot's takes and which two are A and B, and the review form."""

from __future__ import annotations

from typing import Any

import bpy
from bpy.props import (
    BoolProperty,
    CollectionProperty,
    EnumProperty,
    FloatProperty,
    IntProperty,
    StringProperty,
)

from .. import runtime
from ..registry import register_properties, unregister_properties
from . import core

DEFAULT_WORKFLOW = ("NONE", "Server default", "The project's default text-to-image workflow")
GENERATE_JOB_TYPES = ("t2i",)


def workflow_items(_self: Any, _context: Any) -> list[tuple[str, str, str]]:
    """Text-to-image workflows from the server's list (loaded at login), kept alive in the runtime."""
    if not runtime.is_ready():
        return [DEFAULT_WORKFLOW]
    rt = runtime.get()
    items = [DEFAULT_WORKFLOW] + [
        (w["name"], w.get("title") or w["name"], str(w.get("description") or "")[:200])
        for w in sorted(rt.table("workflows").values(), key=lambda w: w["name"])
        if w.get("job_type") in GENERATE_JOB_TYPES and w.get("operation", "generate") == "generate"
    ]
    rt.extras.setdefault("enum_items", {})["images_workflows"] = items
    return items


NO_RECIPE = ("NONE", "No recipe", "Each take one workflow")


def recipe_items(_self: Any, _context: Any) -> list[tuple[str, str, str, str, int]]:
    """The project's recipes a take can be made with (loaded with the dialog), numbered by name so that
    the choice stays put when the list changes."""
    from ..editorial import render_ready_core

    if not runtime.is_ready():
        return render_ready_core.recipe_items([], NO_RECIPE)
    rt = runtime.get()
    items = render_ready_core.recipe_items(core.take_recipes(rt.table("recipes").values()), NO_RECIPE)
    rt.extras.setdefault("enum_items", {})["images_recipes"] = items
    return items


def _shown_changed(self: Any, _context: Any) -> None:
    """A/B or the compare mode changed: show what they now say (when takes are listed)."""
    from .takes import show

    if len(self.takes) and runtime.is_online():
        show()


class AIPIPE_PG_images_pick(bpy.types.PropertyGroup):
    shot_id: StringProperty()  # type: ignore[valid-type]
    code: StringProperty()  # type: ignore[valid-type]


class AIPIPE_PG_images_take(bpy.types.PropertyGroup):
    version_id: StringProperty()  # type: ignore[valid-type]
    label: StringProperty()  # type: ignore[valid-type]
    verdict: StringProperty()  # type: ignore[valid-type]
    first_frame: BoolProperty()  # type: ignore[valid-type]
    provenance: StringProperty()  # type: ignore[valid-type]  # JSON, drawn as name/value lines
    file_url: StringProperty()  # type: ignore[valid-type]
    file_name: StringProperty()  # type: ignore[valid-type]
    file_sha256: StringProperty()  # type: ignore[valid-type]
    # The version's `first_frame` (a property cannot hold None: has_media_first says whether it said one)
    media_first: IntProperty()  # type: ignore[valid-type]
    has_media_first: BoolProperty()  # type: ignore[valid-type]


class AIPIPE_PG_images(bpy.types.PropertyGroup):
    picks: CollectionProperty(type=AIPIPE_PG_images_pick)  # type: ignore[valid-type]
    candidates: IntProperty(  # type: ignore[valid-type]
        name="Candidates", description="Takes per shot", default=4, min=1, max=core.CANDIDATES_MAX
    )
    seeds: EnumProperty(  # type: ignore[valid-type]
        name="Seeds",
        items=(
            ("random", "Random", "Each take a random seed"),
            ("increment", "Increment", "Seeds counted up from the first seed"),
        ),
        default="random",
    )
    seed: IntProperty(name="First seed", description="0: the server picks", default=0, min=0)  # type: ignore[valid-type]
    workflow: EnumProperty(name="Workflow", items=workflow_items)  # type: ignore[valid-type]
    recipe: EnumProperty(  # type: ignore[valid-type]
        name="Recipe",
        description="A project recipe starting with text-to-image instead of a workflow: each take is the "
        "last image of its chain",
        items=recipe_items,
    )
    use_control: BoolProperty(  # type: ignore[valid-type]
        name="Control from layout",
        description="Condition each take on the shot's newest control image rendered from its layout",
    )
    control_kind: EnumProperty(  # type: ignore[valid-type]
        name="Control",
        items=(
            ("depth", "Depth", "Depth from the shot camera"),
            ("canny", "Lines", "Line image (canny)"),
            ("pose", "Pose", "Pose image of the character rigs (OpenPose)"),
        ),
        default="depth",
    )
    shot_id: StringProperty()  # type: ignore[valid-type]  # the shot whose takes are compared
    shot_code: StringProperty()  # type: ignore[valid-type]
    takes: CollectionProperty(type=AIPIPE_PG_images_take)  # type: ignore[valid-type]
    take_index: IntProperty(name="Take A", default=-1)  # type: ignore[valid-type]
    other_index: IntProperty(name="Take B", default=-1)  # type: ignore[valid-type]
    show: EnumProperty(  # type: ignore[valid-type]
        name="Show",
        items=(("A", "A", "Take A"), ("B", "B", "Take B")),
        default="A",
        update=_shown_changed,
    )
    mode: EnumProperty(  # type: ignore[valid-type]
        name="Compare",
        items=(
            ("SINGLE", "One", "The take chosen by A/B"),
            ("SIDE", "Side by side", "A on the left, B on the right"),
            ("WIPE", "Wipe", "A left of the wipe line, B right of it"),
        ),
        default="SINGLE",
        update=_shown_changed,
    )
    wipe: FloatProperty(name="Wipe", description="Where A ends", default=0.5, min=0.0, max=1.0)  # type: ignore[valid-type]
    shown_version: StringProperty()  # type: ignore[valid-type]  # what the Image Editor shows now
    shown_image: StringProperty()  # type: ignore[valid-type]
    arrived: IntProperty()  # type: ignore[valid-type]  # takes that arrived as events this session


CLASSES = (AIPIPE_PG_images_pick, AIPIPE_PG_images_take, AIPIPE_PG_images)
POINTERS = ((bpy.types.WindowManager, "aipipe_images", AIPIPE_PG_images),)


def state() -> AIPIPE_PG_images:
    return bpy.context.window_manager.aipipe_images


def register() -> None:
    register_properties(CLASSES, POINTERS)


def unregister() -> None:
    unregister_properties(CLASSES, POINTERS)
