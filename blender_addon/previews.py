"""Preview collections of downloaded pictures (shot thumbnails, character references), kept on the runtime
under a key, made when first needed and freed when the add-on closes."""

from __future__ import annotations

from typing import Any

import bpy.utils.previews

from . import runtime


def collection(key: str) -> Any:
    """The runtime's preview collection under `key`, made (and set to be freed on close) if missing."""
    rt = runtime.get()
    found = rt.extras.get(key)
    if found is None:
        found = rt.extras[key] = bpy.utils.previews.new()
        rt.extras.setdefault("_closers", []).append(lambda: bpy.utils.previews.remove(found))
    return found


def icon(key: str, item: str) -> int:
    """The icon id of `item` in the collection under `key`; 0 when it has none yet."""
    found = runtime.get().extras.get(key)
    if found is None or item not in found:
        return 0
    return found[item].icon_id
