"""The xlsx sheet reader on a package written as Excel writes it: shared strings (with rich-text runs and
phonetic guides), inline strings, numbers, booleans, formulas, left-out rows and cells, OOXML escapes."""

from __future__ import annotations

import io
import zipfile

from sync_server.shotlist.limits import WorkbookLimits
from sync_server.shotlist.reader import read_upload
from sync_server.shotlist.settings import ShotlistSettings
from sync_server.shotlist.sheet_xml import SheetBook

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"


def _package(sheet_rows: str) -> bytes:
    """A minimal package in Excel's layout: workbook, relationships, shared strings, one sheet."""
    parts = {
        "[Content_Types].xml": '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>',
        "_rels/.rels": (
            f'<Relationships xmlns="{PACKAGE_RELS}"><Relationship Id="rId1" '
            f'Type="{RELS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'<workbook xmlns="{MAIN}" xmlns:r="{RELS}"><sheets>'
            '<sheet name="Shots" sheetId="1" r:id="rId7"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            f'<Relationships xmlns="{PACKAGE_RELS}">'
            f'<Relationship Id="rId7" Type="{RELS}/worksheet" Target="worksheets/sheet9.xml"/>'
            f'<Relationship Id="rId8" Type="{RELS}/sharedStrings" Target="/xl/sharedStrings.xml"/>'
            "</Relationships>"
        ),
        "xl/sharedStrings.xml": (
            f'<sst xmlns="{MAIN}"><si><t>Shot</t></si><si><t>Description</t></si>'
            "<si><r><t>rain </t></r><r><rPr><b/></rPr><t>on the lens</t></r><rPh><t>ignored</t></rPh></si>"
            "<si><t>_x005F_x0041_ literal, CR_x000D_ escaped</t></si></sst>"
        ),
        "xl/worksheets/sheet9.xml": (
            f'<worksheet xmlns="{MAIN}"><dimension ref="A1:C5"/><sheetData>'
            '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>'
            f"{sheet_rows}</sheetData></worksheet>"
        ),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        for name, text in parts.items():
            package.writestr(name, text)
    return buffer.getvalue()


ROWS = (
    '<row r="2"><c r="A2" t="inlineStr"><is><t>SHT_0010</t></is></c><c r="B2" t="s"><v>2</v></c>'
    '<c r="C2"><v>48</v></c></row>'
    '<row r="4"><c r="B4" t="s"><v>3</v></c><c r="C4"><v>2.5</v></c><c r="D4" t="b"><v>1</v></c></row>'
    '<row r="5"><c r="B5"><f>A1&amp;B1</f><v>0</v></c></row>'
)


def test_values_come_back_as_excel_stored_them_with_rows_and_cells_in_place() -> None:
    with zipfile.ZipFile(io.BytesIO(_package(ROWS))) as package:
        book = SheetBook(package)
        assert list(book.sheets) == ["Shots"] and book.last_row("Shots") == 5
        rows = [[(c.value, c.data_type) for c in row] for row in book.rows("Shots")]
    assert rows[0] == [("Shot", "s"), ("Description", "s")]
    assert rows[1] == [("SHT_0010", "s"), ("rain on the lens", "s"), (48, "n")]
    assert rows[2] == []  # row 3 is left out of the file
    assert rows[3] == [
        (None, "n"),
        ("_x005F_x0041_ literal, CR_x000D_ escaped", "s"),
        (2.5, "n"),
        (True, "b"),
    ]
    assert rows[4] == [(None, "n"), ("=A1&B1", "f")]


def test_the_import_reads_escapes_once_and_names_a_formula_cell() -> None:
    settings = ShotlistSettings()
    table = read_upload("x.xlsx", _package(ROWS), settings.max_rows, WorkbookLimits.of(settings))
    [formula] = [p for p in table.problems if p.blocking]
    assert formula.cell == "B5" and formula.row == 5 and "formula" in formula.message
    assert [row.row for row in table.rows] == [2, 4]
    # The cell values are as stored; the validator undoes the OOXML escapes once (see validate._text).
    assert table.rows[1].cells["description"] == "_x005F_x0041_ literal, CR_x000D_ escaped"
