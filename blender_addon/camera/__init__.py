"""The shot camera from the first frame (issue 15): solve on the server and apply, the vanishing-line
overlay, corrections held fixed, .fspy import and export."""

from __future__ import annotations

from .. import parts

register, unregister = parts(__package__, ("props", "overlay", "ops", "pick", "drag", "fspy_io", "ui"))
