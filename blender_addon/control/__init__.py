"""Control inputs made in Blender: depth and line images from the shot camera, painted masks, character
references."""

from __future__ import annotations

from .. import parts

register, unregister = parts(__package__, ("props", "ops", "ui"))
