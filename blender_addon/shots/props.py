"""Window-manager state of the shot browser (not saved in .blend files) and the shot context of scenes."""

from __future__ import annotations

from typing import Any

import bpy
from bpy.props import (
    BoolProperty,
    CollectionProperty,
    EnumProperty,
    IntProperty,
    PointerProperty,
    StringProperty,
)

from .. import runtime
from ..registry import register_properties, unregister_properties

NONE_ITEM = ("NONE", "—", "None")


def _items(kind: str, label_key: str, none: bool) -> list[tuple[str, str, str]]:
    """Enum items from cached records; kept in the runtime because Blender needs them to stay alive."""
    if not runtime.is_ready():
        return [NONE_ITEM]
    rt = runtime.get()
    records = sorted(rt.table(kind).values(), key=lambda r: str(r.get(label_key, "")).casefold())
    items = ([NONE_ITEM] if none else []) + [
        (str(r["id"]), str(r.get(label_key) or r["id"]), str(r.get("description") or "")[:200])
        for r in records
    ]
    if not items:
        items = [NONE_ITEM]
    rt.extras.setdefault("enum_items", {})[kind] = items
    return items


def project_items(_self: Any, _context: Any) -> list[tuple[str, str, str]]:
    return _items("projects", "code", none=False)


def preset_items(_self: Any, _context: Any) -> list[tuple[str, str, str]]:
    return _items("presets", "name", none=True)


def environment_items(_self: Any, _context: Any) -> list[tuple[str, str, str]]:
    return _items("environments", "name", none=True)


def character_items(_self: Any, _context: Any) -> list[tuple[str, str, str]]:
    return _items("characters", "name", none=False)


PROJECT_RECIPE = ("NONE", "Project's recipe", "No recipe of its own: the project's default recipe")


def recipe_items(_self: Any, _context: Any) -> list[tuple[str, str, str, str, int]]:
    """The project's recipes (loaded by the VSE's render-ready feature); the shot's own choice is listed
    even before they arrive, so a form filled early never turns it into the project's. Numbered by name:
    the choice stays put when the list changes."""
    from ..editorial import render_ready_core

    if not runtime.is_ready():
        return render_ready_core.recipe_items([], PROJECT_RECIPE)
    rt = runtime.get()
    recipes = {str(r["name"]): r for r in rt.table("recipes").values()}
    own = (rt.extras.get("form_base") or {}).get("render_recipe")
    if own and str(own) not in recipes:
        recipes[str(own)] = {"name": str(own)}
    items = render_ready_core.recipe_items(list(recipes.values()), PROJECT_RECIPE)
    rt.extras.setdefault("enum_items", {})["recipes"] = items
    return items


def _project_changed(self: Any, context: Any) -> None:
    from . import ops

    ops.select_project(self.project if self.project != "NONE" else "")


def _shot_index_changed(self: Any, context: Any) -> None:
    from . import ops

    if 0 <= self.shot_index < len(self.shots):
        ops.load_form(self.shots[self.shot_index].id)


class AIPIPE_PG_shot_item(bpy.types.PropertyGroup):
    id: StringProperty()  # type: ignore[valid-type]
    code: StringProperty()  # type: ignore[valid-type]
    status: StringProperty()  # type: ignore[valid-type]
    duration_frames: IntProperty()  # type: ignore[valid-type]
    description: StringProperty()  # type: ignore[valid-type]
    locked: BoolProperty()  # type: ignore[valid-type]


class AIPIPE_PG_subject(bpy.types.PropertyGroup):
    character: EnumProperty(name="Character", items=character_items)  # type: ignore[valid-type]
    clothing: StringProperty(name="Clothing")  # type: ignore[valid-type]


class AIPIPE_PG_shot_form(bpy.types.PropertyGroup):
    """The shot being edited; `revision` is the one the artist started from."""

    shot_id: StringProperty()  # type: ignore[valid-type]
    code: StringProperty()  # type: ignore[valid-type]
    revision: IntProperty()  # type: ignore[valid-type]
    description: StringProperty(name="Description")  # type: ignore[valid-type]
    action: StringProperty(name="Action")  # type: ignore[valid-type]
    duration_frames: IntProperty(name="Duration (frames)", min=1, default=72)  # type: ignore[valid-type]
    preset: EnumProperty(name="Cinematic preset", items=preset_items)  # type: ignore[valid-type]
    environment: EnumProperty(name="Environment", items=environment_items)  # type: ignore[valid-type]
    recipe: EnumProperty(name="Render recipe", items=recipe_items)  # type: ignore[valid-type]
    subjects: CollectionProperty(type=AIPIPE_PG_subject)  # type: ignore[valid-type]
    conflict: BoolProperty()  # type: ignore[valid-type]
    conflict_fields: StringProperty()  # type: ignore[valid-type]
    changed_on_server: BoolProperty()  # type: ignore[valid-type]


class AIPIPE_PG_browser(bpy.types.PropertyGroup):
    project: EnumProperty(name="Project", items=project_items, update=_project_changed)  # type: ignore[valid-type]
    shots: CollectionProperty(type=AIPIPE_PG_shot_item)  # type: ignore[valid-type]
    shot_index: IntProperty(default=-1, update=_shot_index_changed)  # type: ignore[valid-type]
    form: PointerProperty(type=AIPIPE_PG_shot_form)  # type: ignore[valid-type]


class AIPIPE_PG_scene_shot(bpy.types.PropertyGroup):
    """Which shot a scene is set up for (saved in the .blend: ids and codes only, no credentials)."""

    project_id: StringProperty()  # type: ignore[valid-type]
    shot_id: StringProperty()  # type: ignore[valid-type]
    shot_code: StringProperty(name="Shot")  # type: ignore[valid-type]
    cut_in: IntProperty(name="Cut in")  # type: ignore[valid-type]
    cut_out: IntProperty(name="Cut out")  # type: ignore[valid-type]
    lens_mm: bpy.props.FloatProperty(name="Lens")  # type: ignore[valid-type]


CLASSES = (
    AIPIPE_PG_shot_item,
    AIPIPE_PG_subject,
    AIPIPE_PG_shot_form,
    AIPIPE_PG_browser,
    AIPIPE_PG_scene_shot,
)
POINTERS = (
    (bpy.types.WindowManager, "aipipe", AIPIPE_PG_browser),
    (bpy.types.Scene, "aipipe_shot", AIPIPE_PG_scene_shot),
)


def register() -> None:
    register_properties(CLASSES, POINTERS)


def unregister() -> None:
    unregister_properties(CLASSES, POINTERS)
