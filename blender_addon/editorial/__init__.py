"""Editorial in the Video Sequence Editor: build the edit from the shot list, update media, push the edit
back, review takes, proxy movies and EDL / FCP XML / OTIO export. `core` is bpy-free (the server uses it)."""

from __future__ import annotations

from .. import parts

register, unregister = parts(
    __package__, ("props", "build", "takes", "push", "movies", "ui", "costs", "render_ready", "conform")
)
