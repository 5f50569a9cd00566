"""Script breakdown in Blender: a text datablock becomes a draft on the server, reviewed and applied here,
then "Create edit" lays the new shots out in the VSE."""

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
