"""Workbook limits checked before parsing: zip parts counted from the end record, a cell's text measured
across read chunks, cells counted across chunk boundaries."""

from __future__ import annotations

import io
import zipfile

import pytest

from sync_server.shotlist import limits
from sync_server.shotlist.limits import WorkbookLimits, WorkbookTooLarge, check_workbook

ROOMY = WorkbookLimits(max_unzipped_bytes=10**9, max_cell_bytes=1000, max_cells=1000)


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        for name, data in members.items():
            package.writestr(name, data)
    return buffer.getvalue()


def _sheet(*texts: str) -> bytes:
    cells = "".join(f'<c r="A{i}" t="inlineStr"><is><t>{t}</t></is></c>' for i, t in enumerate(texts, 1))
    return f"<worksheet><sheetData><row>{cells}</row></sheetData></worksheet>".encode()


def test_more_zip_parts_than_allowed_are_refused_from_the_end_record(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_MEMBERS", 10)
    check_workbook(_zip({f"xl/media/{i}.bin": b"x" for i in range(10)}), ROOMY)
    with pytest.raises(WorkbookTooLarge, match="11 parts"):
        check_workbook(_zip({f"xl/media/{i}.bin": b"x" for i in range(11)}), ROOMY)


def test_a_long_text_is_found_across_read_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "SCAN_CHUNK", 64)  # the text spans many chunks
    check_workbook(_zip({"xl/worksheets/sheet1.xml": _sheet("a" * 990)}), ROOMY)
    with pytest.raises(WorkbookTooLarge, match="MAX_CELL_BYTES"):
        check_workbook(_zip({"xl/worksheets/sheet1.xml": _sheet("short", "b" * 1001)}), ROOMY)


def test_cells_split_by_a_chunk_boundary_are_counted_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "SCAN_CHUNK", 7)  # every tag is cut somewhere
    exact = WorkbookLimits(max_unzipped_bytes=10**9, max_cell_bytes=1000, max_cells=50)
    check_workbook(_zip({"xl/worksheets/sheet1.xml": _sheet(*["x"] * 50)}), exact)
    with pytest.raises(WorkbookTooLarge, match="50 cells"):
        check_workbook(_zip({"xl/worksheets/sheet1.xml": _sheet(*["x"] * 51)}), exact)


def test_the_unpacked_size_is_read_from_the_directory_before_any_part_is_read() -> None:
    small = WorkbookLimits(max_unzipped_bytes=1000, max_cell_bytes=10**6, max_cells=10**6)
    with pytest.raises(WorkbookTooLarge, match="MAX_UNZIPPED_BYTES"):
        check_workbook(_zip({"xl/media/big.bin": b"\0" * 1001}), small)
