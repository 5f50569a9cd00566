"""Playblast: viewport (or headless Workbench) H.264 with burn-ins, uploaded as the next playblast version.

`render.render_playblast` and `python -m blender_addon.playblast` work without the add-on registered.
"""

from __future__ import annotations


def register() -> None:
    from . import ops, ui

    ops.register()
    ui.register()


def unregister() -> None:
    from . import ops, ui

    ui.unregister()
    ops.unregister()
