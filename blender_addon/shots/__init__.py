"""Browse and edit shots: project picker, shot list, details with conflict handling, live refresh."""

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
