"""Reading an uploaded shot list (xlsx, CSV or JSON) into rows of raw cell values by column key.

Structural problems (not a workbook, wrong sheet, merged cells, too many rows, formulas, duplicate
columns) are blocking problems; unknown columns are ignored with a warning.
"""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Any

from .cells import column_letter
from .columns import META_SHEET, SHOT_COLUMNS, SHOTS_SHEET, Column, header_index, normalise_header
from .limits import SCAN_CHUNK, WorkbookLimits, WorkbookTooLarge, check_workbook
from .problems import Problem
from .sheet_xml import SheetBook

MERGE_RE = re.compile(rb'<(?:[A-Za-z_][\w.-]*:)?mergeCell\s+ref="([A-Z]+\d+:[A-Z]+\d+)"')
MERGE_TAIL = 256  # bytes kept between chunks so that a mergeCell tag split by a boundary is found
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls (and other Office 97-2003 files)
CSV_ENCODINGS = ("utf-8-sig", "cp949")  # Excel's Korean CSVs are often CP949


@dataclass
class RawRow:
    row: int
    cells: dict[str, Any]  # column key -> value as read
    cell_refs: dict[str, str] = field(default_factory=dict)  # column key -> "F12"


@dataclass
class RawTable:
    sheet: str = ""
    format: str = ""  # xlsx | csv | json: what the export did to text (neutralised, escaped) differs
    headers: dict[str, str] = field(default_factory=dict)  # column key -> header as written
    rows: list[RawRow] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def fail(self, message: str, **where: Any) -> None:
        self.problems.append(Problem(message, sheet=where.pop("sheet", self.sheet), **where))

    def warn(self, message: str, **where: Any) -> None:
        self.problems.append(Problem(message, sheet=where.pop("sheet", self.sheet), blocking=False, **where))

    @property
    def blocked(self) -> bool:
        return any(p.blocking for p in self.problems)


def read_upload(filename: str, content: bytes, max_rows: int, limits: WorkbookLimits) -> RawTable:
    """Dispatch on the content (not only the name): a zip is a workbook, `{` is JSON, else CSV.

    Raises WorkbookTooLarge when the file breaks a size limit (checked before it is parsed)."""
    name = filename.lower()
    if content.startswith(b"PK\x03\x04"):
        return read_xlsx(content, max_rows, limits)
    if content.startswith(OLE_MAGIC) or name.endswith(".xls"):
        table = RawTable(sheet=filename)
        table.fail(f"{filename} is an old Excel 97-2003 (.xls) file; save it as .xlsx and import that.")
        return table
    if name.endswith((".xlsx", ".xlsm")):
        table = RawTable(sheet=filename)
        table.fail(f"{filename} is not an Excel workbook (.xlsx): its content is not a zip package.")
        return table
    if name.endswith(".json") or content.lstrip()[:1] in (b"{", b"["):
        return read_json(filename, content, max_rows, limits)
    return read_csv(filename, content, max_rows, limits)


# -- xlsx -------------------------------------------------------------------------------------------------


def read_xlsx(content: bytes, max_rows: int, limits: WorkbookLimits) -> RawTable:
    table = RawTable(format="xlsx")
    check_workbook(content, limits)
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as package:
            _read_book(table, content, SheetBook(package), max_rows, limits)
    except WorkbookTooLarge:
        raise
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, ET.ParseError, zlib.error) as exc:
        table.problems = [p for p in table.problems if not p.blocking]
        table.rows = []
        table.fail(f"The file is not a readable Excel workbook (.xlsx): {exc}")
    return table


def _read_book(
    table: RawTable, content: bytes, book: SheetBook, max_rows: int, limits: WorkbookLimits
) -> None:
    table.meta = _meta(book)
    if table.meta.get("kind") not in (None, "shots"):
        table.fail(f"This is a '{table.meta['kind']}' export, not a shot list; only shot lists are imported.")
        return
    wanted = {name.casefold() for name in SHOTS_SHEET}
    sheet_name = next((n for n in book.sheets if n.casefold() in wanted), None)
    if sheet_name is None:
        found = ", ".join(f"'{n}'" for n in book.sheets if n not in (META_SHEET, "lists"))
        table.fail(
            f"The workbook has no sheet named '{SHOTS_SHEET[0]}' or '{SHOTS_SHEET[1]}' (it has {found})."
        )
        return
    table.sheet = sheet_name
    size = book.last_row(sheet_name) or 0
    if size - 1 > max_rows:
        table.fail(f"The sheet has {size - 1:,} rows; at most {max_rows:,} are imported at once.")
        return
    for ref in _merged(content, book.sheets[sheet_name]):
        table.fail(f"Cells {ref} are merged; unmerge them so that every row has its own values.", cell=ref)
    if not table.blocked:
        _read_rows(table, book.rows(sheet_name), max_rows, limits)


def _meta(book: SheetBook) -> dict[str, Any]:
    if META_SHEET not in book.sheets:
        return {}
    found: dict[str, Any] = {}
    for row in book.rows(META_SHEET):
        if len(row) > 1 and row[0].value is not None:
            found[str(row[0].value)] = row[1].value
    return found


def _merged(content: bytes, worksheet_path: str) -> list[str]:
    """The merged ranges of the sheet, read in chunks (the sheet's XML is never held whole)."""
    if not worksheet_path:
        return []
    found: dict[str, None] = {}
    with zipfile.ZipFile(io.BytesIO(content)) as package:
        try:
            stream = package.open(worksheet_path.lstrip("/"))
        except KeyError:
            return []
        with stream:
            carry = b""
            while chunk := stream.read(SCAN_CHUNK):
                window = carry + chunk
                found.update(dict.fromkeys(ref.decode() for ref in MERGE_RE.findall(window)))
                carry = window[-MERGE_TAIL:]
    return list(found)


def _read_rows(table: RawTable, rows: Any, max_rows: int, limits: WorkbookLimits) -> None:
    columns: dict[int, Column] = {}
    letters: dict[int, str] = {}
    cells_read = 0
    for number, row in enumerate(rows, start=1):
        if number == 1:
            columns = _header(table, [cell.value for cell in row])
            letters = {index: column_letter(index) for index in columns}
            if table.blocked:
                return
            continue
        if number - 1 > max_rows:
            table.fail(
                f"The sheet has more than {max_rows:,} rows; at most {max_rows:,} are imported at once."
            )
            return
        cells: dict[str, Any] = {}
        refs: dict[str, str] = {}
        cells_read += len(row)
        if cells_read > limits.max_cells:
            raise WorkbookTooLarge(
                f"The file has more than {limits.max_cells:,} cells; at most that many are read "
                "(AIPIPE_SHOTLIST_MAX_CELLS)."
            )
        for index, cell in enumerate(row):
            column = columns.get(index)
            value = getattr(cell, "value", None)
            if column is None or value is None:
                continue
            ref = f"{letters[index]}{number}"
            # At most 4 bytes a character: only long text is encoded to be measured.
            if (
                isinstance(value, str)
                and len(value) * 4 > limits.max_cell_bytes
                and len(value.encode()) > limits.max_cell_bytes
            ):
                raise WorkbookTooLarge(
                    f"Cell {ref} holds more than {limits.max_cell_bytes:,} bytes of text "
                    "(AIPIPE_SHOTLIST_MAX_CELL_BYTES)."
                )
            if getattr(cell, "data_type", None) == "f":
                table.fail(
                    f"Cell {ref} holds a formula ({str(value)[:60]}); type the value itself.",
                    row=number,
                    column=table.headers[column.key],
                    cell=ref,
                )
                continue
            cells[column.key] = value
            refs[column.key] = ref
        if any(v not in ("", None) for v in cells.values()):
            table.rows.append(RawRow(number, cells, refs))


def _header(table: RawTable, names: list[Any]) -> dict[int, Column]:
    known = header_index(SHOT_COLUMNS)
    columns: dict[int, Column] = {}
    for index, name in enumerate(names):
        if name is None or str(name).strip() == "":
            continue
        column = known.get(normalise_header(str(name)))
        letter = column_letter(index)
        if column is None:
            table.warn(
                f"Column '{name}' ({letter}) is not a shot list column and is ignored.", column=str(name)
            )
            continue
        if column.key in table.headers:
            table.fail(
                f"Columns '{table.headers[column.key]}' and '{name}' ({letter}) are the same field; "
                "keep one.",
                column=str(name),
            )
            continue
        table.headers[column.key] = str(name)
        columns[index] = column
    if not columns:
        table.fail("The first row has none of the shot list's column headers (English or Korean).", row=1)
    return columns


# -- CSV and JSON -------------------------------------------------------------------------------------------


class _Cell:
    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def read_csv(filename: str, content: bytes, max_rows: int, limits: WorkbookLimits) -> RawTable:
    table = RawTable(sheet=filename, format="csv")
    text = None
    for encoding in CSV_ENCODINGS:
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    if text is None or "\x00" in text:
        table.fail(f"{filename} is neither an Excel workbook nor a UTF-8 (or CP949) CSV text file.")
        return table
    try:  # Excel writes ';' in some locales: take the delimiter from the header, the rest is Excel's CSV
        delimiter = csv.Sniffer().sniff(text.split("\n", 1)[0], delimiters=",;\t").delimiter
    except csv.Error:
        delimiter = ","
    rows: list[list[_Cell]] = []
    cells = 0
    try:
        for row in csv.reader(io.StringIO(text), delimiter=delimiter):
            # Counted while reading: a file of commas is millions of cells before it is a table.
            cells += len(row)
            if len(rows) > max_rows:
                table.fail(
                    f"The file has more than {max_rows:,} rows; at most {max_rows:,} are imported at once."
                )
                return table
            if cells > limits.max_cells:
                raise WorkbookTooLarge(
                    f"The file has more than {limits.max_cells:,} cells; at most that many are read "
                    "(AIPIPE_SHOTLIST_MAX_CELLS)."
                )
            rows.append([_Cell(v if v != "" else None) for v in row])
    except csv.Error as exc:
        table.fail(f"{filename} is not valid CSV: {exc}")
        return table
    _read_rows(table, rows, max_rows, limits)
    return table


def read_json(filename: str, content: bytes, max_rows: int, limits: WorkbookLimits) -> RawTable:
    table = RawTable(sheet=filename, format="json")
    # Every value but the first of a list or object follows a ',' (keys count too): a bound on the values
    # json.loads would build, taken before it builds them.
    values = content.count(b",") + content.count(b"[") + content.count(b"{")
    if values > 2 * limits.max_cells:
        raise WorkbookTooLarge(
            f"The file holds more than {2 * limits.max_cells:,} JSON values; at most {limits.max_cells:,} "
            "cells are read (AIPIPE_SHOTLIST_MAX_CELLS)."
        )
    try:
        document = json.loads(content)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        table.fail(f"{filename} is not valid JSON: {exc}")
        return table
    shots = document.get("shots") if isinstance(document, dict) else document
    if not isinstance(shots, list) or not all(isinstance(s, dict) for s in shots):
        table.fail(f"{filename} must hold a list of shots (objects), or an object with a 'shots' list.")
        return table
    if len(shots) > max_rows:
        table.fail(f"The file has {len(shots):,} shots; at most {max_rows:,} are imported at once.")
        return table
    table.meta = {k: v for k, v in document.items() if k != "shots"} if isinstance(document, dict) else {}
    keys = sorted({key for shot in shots for key in shot}, key=lambda k: k != "id")
    rows: list[list[Any]] = [[_Cell(k) for k in keys]]
    rows += [[_Cell(shot.get(k)) for k in keys] for shot in shots]
    _read_rows(table, rows, max_rows, limits)
    return table
