"""Shot setup (layout scene from the shot's records and first frame), layout publishing, camera exchange,
the 2.5D set from the first frame's depth."""

from __future__ import annotations

from .. import parts

register, unregister = parts(__package__, ("ops", "set25d_ops", "ui"))
