"""Editorial in the Video Sequence Editor: build the edit from the shot list, update media, push the edit
back, review takes, proxy movies and EDL / FCP XML / OTIO export. `core` is bpy-free (the server uses it)."""

from __future__ import annotations


def register() -> None:
    from . import ops, props, ui

    props.register()
    ops.register()
    ui.register()


def unregister() -> None:
    from . import ops, props, ui

    ui.unregister()
    ops.unregister()
    props.unregister()
