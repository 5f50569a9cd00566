"""Helpers every feature package uses to register its classes and properties."""

from __future__ import annotations

from collections.abc import Iterable

import bpy


def register_classes(classes: Iterable[type]) -> None:
    for cls in classes:
        bpy.utils.register_class(cls)


def unregister_classes(classes: Iterable[type]) -> None:
    for cls in reversed(list(classes)):
        if getattr(cls, "is_registered", False):
            bpy.utils.unregister_class(cls)


def ensure_online(operator_cls: type, context: bpy.types.Context) -> bool:
    """Poll helper: True when logged in, else says why (shown on the disabled button)."""
    from . import runtime

    if not runtime.is_ready():
        operator_cls.poll_message_set("The AIPipeline add-on is not running")
        return False
    if not runtime.get().online:
        operator_cls.poll_message_set("Not logged in to the AIPipeline server (see the Connection panel)")
        return False
    return True
