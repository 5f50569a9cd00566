"""Helpers every feature package uses to register its classes and properties."""

from __future__ import annotations

from collections.abc import Iterable

import bpy

from .i18n import tip


def register_classes(classes: Iterable[type]) -> None:
    for cls in classes:
        bpy.utils.register_class(cls)


def unregister_classes(classes: Iterable[type]) -> None:
    for cls in reversed(list(classes)):
        if getattr(cls, "is_registered", False):
            bpy.utils.unregister_class(cls)


def register_properties(classes: Iterable[type], pointers: Iterable[tuple[type, str, type]]) -> None:
    """Register property groups, then hang each `(owner, name, group)` on its owner as a pointer
    (e.g. `(bpy.types.WindowManager, "aipipe_shotlist", AIPIPE_PG_shotlist)`)."""
    register_classes(classes)
    for owner, name, group in pointers:
        setattr(owner, name, bpy.props.PointerProperty(type=group))


def unregister_properties(classes: Iterable[type], pointers: Iterable[tuple[type, str, type]]) -> None:
    """Undo `register_properties`: the pointers in reverse order, then the classes."""
    for owner, name, _group in reversed(list(pointers)):
        delattr(owner, name)
    unregister_classes(classes)


OFFLINE_MESSAGE = "Online access is off in Blender (Preferences > System > Network > Allow Online Access)"


def online_access() -> bool:
    """Blender's online-access switch (extension rules: no network when the user turned it off)."""
    return bool(bpy.app.online_access)


def ensure_online_access(operator_cls: type) -> bool:
    """Poll helper: True when Blender allows online access, else says why."""
    if not online_access():
        operator_cls.poll_message_set(tip(OFFLINE_MESSAGE))
        return False
    return True


def ensure_online(operator_cls: type, context: bpy.types.Context) -> bool:
    """Poll helper: True when logged in, else says why (shown on the disabled button)."""
    from . import runtime

    if not ensure_online_access(operator_cls):
        return False
    if not runtime.is_ready():
        operator_cls.poll_message_set(tip("The AIPipeline add-on is not running"))
        return False
    if not runtime.get().online:
        operator_cls.poll_message_set(
            tip("Not logged in to the AIPipeline server (see the Connection panel)")
        )
        return False
    return True


def ensure_project(operator_cls: type, context: bpy.types.Context) -> bool:
    """Poll helper: True when logged in and a project is picked, else says why."""
    from . import runtime

    if not ensure_online(operator_cls, context):
        return False
    if not runtime.current_project_id():
        operator_cls.poll_message_set(tip("Pick a project in the Shots panel first"))
        return False
    return True


def ensure_shot_scene(operator_cls: type, context: bpy.types.Context) -> bool:
    """Poll helper: True when logged in and this scene is set up for a shot, else says why."""
    if not ensure_online(operator_cls, context):
        return False
    if not context.scene.aipipe_shot.shot_id:
        operator_cls.poll_message_set(tip("This scene is not set up for a shot (use Set up shot)"))
        return False
    return True
