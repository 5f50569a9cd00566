"""Shot setup (layout scene from the shot's records and first frame), layout publishing, camera exchange."""

from __future__ import annotations


def register() -> None:
    from . import ops, ui

    ops.register()
    ui.register()


def unregister() -> None:
    from . import ops, ui

    ui.unregister()
    ops.unregister()
