"""The shot list in Excel from Blender: export it, and import an edited file with a diff to review and apply
(the server reads, validates and diffs the file; see docs/shotlist.md)."""

from __future__ import annotations

from .. import parts

register, unregister = parts(__package__, ("props", "ops", "ui"))
