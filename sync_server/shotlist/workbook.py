"""Writing sheets with openpyxl: headers, widths, frozen header, hidden columns, drop-downs, thumbnails."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.drawing.image import Image as SheetImage
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet
from PIL import Image

from .cells import column_letter, neutralise, ooxml_escape
from .columns import META_SHEET, Column

logger = logging.getLogger(__name__)
HEADER_FILL = PatternFill("solid", fgColor="DDE4EE")
LISTS_SHEET = "lists"
PX_PER_POINT = 4 / 3  # row heights are in points, images in pixels (96 dpi)
JPEG_QUALITY = 80


def cell_value(value: Any) -> Any:
    """A value safe to store: formulas neutralised, characters XML cannot hold escaped (read back exactly)."""
    if isinstance(value, str):
        return neutralise(ooxml_escape(value))
    if isinstance(value, (list, tuple)):
        return neutralise(", ".join(str(v) for v in value))
    return value


def new_workbook() -> Workbook:
    workbook = Workbook()
    workbook.remove(workbook.active)
    return workbook


def write_table(
    workbook: Workbook,
    title: str,
    columns: Sequence[Column],
    rows: Iterable[Sequence[Any]],
    lang: str,
) -> Worksheet:
    """One sheet: a bold frozen header, sensible widths, hidden technical columns, an auto-filter."""
    sheet = workbook.create_sheet(title)
    sheet.append([column.header(lang) for column in columns])
    for index, column in enumerate(columns):
        header = sheet.cell(row=1, column=index + 1)
        header.font = Font(bold=True)
        header.fill = HEADER_FILL
        letter = column_letter(index)
        sheet.column_dimensions[letter].width = column.width
        sheet.column_dimensions[letter].hidden = column.hidden
    count = 1
    for row in rows:
        sheet.append([cell_value(value) for value in row])
        count += 1
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{column_letter(len(columns) - 1)}{count}"
    wrap = Alignment(wrap_text=True, vertical="top")
    for index, column in enumerate(columns):
        if column.width >= 24:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=index + 1, max_col=index + 1):
                cell.alignment = wrap
    return sheet


def add_choices(
    workbook: Workbook, sheet: Worksheet, column_index: int, rows: int, name: str, choices: Sequence[str]
) -> None:
    """A drop-down on one column, its choices kept on a hidden sheet (no 255-character limit)."""
    lists = (
        workbook[LISTS_SHEET] if LISTS_SHEET in workbook.sheetnames else workbook.create_sheet(LISTS_SHEET)
    )
    lists.sheet_state = "hidden"
    col = lists.max_column + 1 if lists.max_row > 1 or lists["A1"].value else 1
    lists.cell(row=1, column=col, value=name)
    for offset, choice in enumerate(choices):
        lists.cell(row=offset + 2, column=col, value=cell_value(choice))
    letter = column_letter(col - 1)
    end = max(len(choices) + 1, 2)
    validation = DataValidation(
        type="list",
        formula1=f"{LISTS_SHEET}!${letter}$2:${letter}${end}",
        allow_blank=True,
        showErrorMessage=True,
        errorTitle=name,
        error=f"Choose one of the {name.lower()} in the list.",
    )
    target = column_letter(column_index)
    validation.add(f"{target}2:{target}{max(rows + 1, 2) + 1000}")  # room for rows people add
    sheet.add_data_validation(validation)


def add_meta(workbook: Workbook, values: dict[str, Any]) -> None:
    """A hidden sheet saying what this file is, for the import."""
    meta = workbook.create_sheet(META_SHEET)
    for key, value in values.items():
        meta.append([key, cell_value(value)])
    meta.sheet_state = "hidden"


def add_thumbnails(sheet: Worksheet, column_index: int, paths: Sequence[Path | None], size: int) -> int:
    """Embed a JPEG thumbnail (longest side `size`) in each row that has a picture; returns how many."""
    letter = column_letter(column_index)
    sheet.column_dimensions[letter].width = max(sheet.column_dimensions[letter].width or 0, size / 7 + 2)
    placed = 0
    for offset, path in enumerate(paths):
        if path is None:
            continue
        data = _scaled_jpeg(path, size)
        if data is None:
            continue
        row = offset + 2
        image = SheetImage(io.BytesIO(data))
        sheet.add_image(image, f"{letter}{row}")
        sheet.row_dimensions[row].height = image.height / PX_PER_POINT + 2
        placed += 1
    return placed


def _scaled_jpeg(path: Path, size: int) -> bytes | None:
    try:
        with Image.open(path) as source:
            source.draft("RGB", (size, size))
            picture = source.convert("RGB")
        picture.thumbnail((size, size))
        buffer = io.BytesIO()
        picture.save(buffer, "JPEG", quality=JPEG_QUALITY)
        return buffer.getvalue()
    except OSError as exc:  # a missing or damaged thumbnail leaves the cell empty, never fails the export
        logger.warning("thumbnail not embedded", extra={"path": str(path), "error": str(exc)})
        return None


def to_bytes(workbook: Workbook) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
