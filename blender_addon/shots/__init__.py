"""Browse and edit shots: project picker, shot list, details with conflict handling, live refresh."""

from __future__ import annotations

from .. import parts

register, unregister = parts(__package__, ("props", "ops", "history", "ui"))
