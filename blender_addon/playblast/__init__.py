"""Playblast: viewport (or headless Workbench) H.264 with burn-ins, uploaded as the next playblast version.

`render.render_playblast` and `python -m blender_addon.playblast` work without the add-on registered.
"""

from __future__ import annotations

from .. import parts

register, unregister = parts(__package__, ("ops", "ui"))
