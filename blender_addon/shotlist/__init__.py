"""The shot list in Excel from Blender: export it, and import an edited file with a diff to review and apply
(the server reads, validates and diffs the file; see docs/shotlist.md)."""

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
