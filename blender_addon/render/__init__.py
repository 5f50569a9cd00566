"""Send to render: workflow picker, job submission, live job progress, loading the finished version."""

from __future__ import annotations


def register() -> None:
    from . import ops, ui

    ops.register()
    ui.register()


def unregister() -> None:
    from . import ops, ui

    ui.unregister()
    ops.unregister()
