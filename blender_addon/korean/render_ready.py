"""Korean for the render-ready and recipe texts of the VSE (English -> Korean), merged by
`blender_addon.i18n.table()`."""

from __future__ import annotations

KOREAN: dict[str, str] = {}
