"""Keyboard stepping through takes: Alt+Page Down / Alt+Page Up show the next / previous take, in the
Sequencer (the active strip's shot) and in the Image Editor (the compared shot). Added to the add-on key
configuration on register and taken out on unregister."""

from __future__ import annotations

from typing import Any

import bpy

from .. import runtime

KEYS = (("PAGE_DOWN", 1), ("PAGE_UP", -1))
MAPS = (
    ("Sequencer", "SEQUENCE_EDITOR", "aipipe.editorial_step_version"),
    ("Image", "IMAGE_EDITOR", "aipipe.images_step_take"),
)
HELD = "images_keymap_items"  # runtime extras: the (keymap, item) pairs this feature added


def register() -> None:
    keyconfig = bpy.context.window_manager.keyconfigs.addon
    if keyconfig is None:  # no window manager key configuration (some background runs)
        return
    held: list[tuple[Any, Any]] = runtime.get().extras.setdefault(HELD, [])
    for name, space, operator in MAPS:
        keymap = keyconfig.keymaps.new(name=name, space_type=space)
        for key, step in KEYS:
            item = keymap.keymap_items.new(operator, key, "PRESS", alt=True)
            item.properties.step = step
            held.append((keymap, item))


def unregister() -> None:
    if not runtime.is_ready():
        return
    for keymap, item in runtime.get().extras.pop(HELD, []):
        keymap.keymap_items.remove(item)
