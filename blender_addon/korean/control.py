# ruff: noqa: E501  (a translation table: one entry per line reads better than wrapped strings)
"""Korean for the `control` feature's texts (English -> Korean), merged by `blender_addon.i18n.table()`."""

from __future__ import annotations

KOREAN: dict[str, str] = {}
