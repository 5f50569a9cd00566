"""The add-on's lists: each item is drawn as one aligned row."""

from __future__ import annotations

from typing import Any


class RowList:
    """Mixin for a `bpy.types.UIList` (`class AIPIPE_UL_x(RowList, bpy.types.UIList)`): Blender's
    `draw_item` gives each item one aligned row and `draw_row` fills it."""

    def draw_item(
        self,
        _context: Any,
        layout: Any,
        _data: Any,
        item: Any,
        _icon: int,
        _active_data: Any,
        _active_property: str,
        _index: int = 0,
        _flt_flag: int = 0,
    ) -> None:
        self.draw_row(layout.row(align=True), item)

    def draw_row(self, row: Any, item: Any) -> None:
        raise NotImplementedError
