"""Connection: preferences (server URL, path mapping), log in once, session resume, live events, status."""

from __future__ import annotations


def register() -> None:
    from . import ops, props, ui

    props.register()
    ops.register()
    ui.register()
    ops.resume_session()


def unregister() -> None:
    from . import ops, props, ui

    ui.unregister()
    ops.unregister()
    props.unregister()
