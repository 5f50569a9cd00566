"""Script breakdown in Blender: a text datablock becomes a draft on the server, reviewed and applied here,
then "Create edit" lays the new shots out in the VSE."""

from __future__ import annotations

from .. import parts

register, unregister = parts(__package__, ("props", "ops", "ui"))
