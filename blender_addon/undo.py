"""Undo steps for changes that land after their operator has returned.

An operator that fetches from the server changes the scene later, in the worker's callback on the main
thread; Blender's own `UNDO` flag would record the scene before that change and Ctrl+Z would undo
nothing. Those operators leave the flag out and the callback pushes the step when the change lands.
"""

from __future__ import annotations

import logging

import bpy

log = logging.getLogger(__name__)


def push_step(message: str) -> bool:
    """Record the scene as it is now as one undo step named `message` (translated); main thread only.

    Timer callbacks run without a window in the context, so the first window is lent to the operator."""
    label = bpy.app.translations.pgettext_iface(message)
    wm = bpy.context.window_manager
    window = bpy.context.window or (wm.windows[0] if wm is not None and len(wm.windows) else None)
    if window is None:  # no window at all (e.g. during file load): nothing could undo it anyway
        log.info("AIPipeline: no window, undo step '%s' not pushed", message)
        return False
    with bpy.context.temp_override(window=window):
        result = bpy.ops.ed.undo_push(message=label)
    return "FINISHED" in result
