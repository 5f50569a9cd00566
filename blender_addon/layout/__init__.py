"""Shot setup (layout scene from the shot's records and first frame), layout publishing, camera exchange."""

from __future__ import annotations

from .. import parts

register, unregister = parts(__package__, ("ops", "ui"))
