"""Hostile shot lists are refused before they are parsed: a small xlsx that unpacks to hundreds of MB, a
cell holding megabytes of text, more cells than the limit (xlsx, CSV, JSON). Each is a 413 naming the
limit, and the server's memory does not grow with what the file claims to hold."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import openpyxl
import pytest

from tests.conftest import start_server_with_admin
from tests.support.api import assert_problem, login

MB = 1024 * 1024
MAX_CELLS = 5000  # the test server's AIPIPE_SHOTLIST_MAX_CELLS
SHEET_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
    b'<row r="1"><c r="A1" t="inlineStr"><is><t>Shot</t></is></c>'
    b'<c r="B1" t="inlineStr"><is><t>Description</t></is></c></row>'
    b'<row r="2"><c r="B2" t="inlineStr"><is><t>'
)
SHEET_TAIL = b"</t></is></c></row></sheetData></worksheet>"


def _with_sheet(write_sheet: object) -> bytes:
    """A real workbook (made by openpyxl) whose Shots sheet XML is replaced by what `write_sheet` writes."""
    book = openpyxl.Workbook()
    book.active.title = "Shots"
    book.active.append(["Shot", "Description"])
    base = io.BytesIO()
    book.save(base)
    out = io.BytesIO()
    with zipfile.ZipFile(base) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            if item.filename == "xl/worksheets/sheet1.xml":
                with target.open(item.filename, "w") as sheet:
                    write_sheet(sheet)  # type: ignore[operator]
            else:
                target.writestr(item, source.read(item.filename))
    return out.getvalue()


def one_long_string(size: int) -> bytes:
    """A workbook with one inline string of `size` bytes (it compresses about a thousandfold)."""

    def write(sheet: io.BufferedWriter) -> None:
        sheet.write(SHEET_HEAD)
        chunk = b"A" * MB
        for _ in range(size // MB):
            sheet.write(chunk)
        sheet.write(SHEET_TAIL)

    return _with_sheet(write)


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, str, int]]:
    """A server of its own (its memory is measured) with a small cell limit; an admin client, a project."""
    data_dir: Path = tmp_path_factory.mktemp("limits")
    server, password = start_server_with_admin(data_dir, None, {"AIPIPE_SHOTLIST_MAX_CELLS": str(MAX_CELLS)})
    client = login(server.url, "admin_test", password)
    try:
        project = client.post("/api/projects", json={"code": f"L{uuid.uuid4().hex[:8]}", "name": "limits"})
        assert project.status_code == 201, project.text
        assert server.process is not None
        yield client, project.json()["id"], server.process.pid
    finally:
        client.close()
        server.stop()


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc status")


def _refused(client: httpx.Client, pid: str, name: str, content: bytes, setting: str) -> None:
    for route in ("import", "apply"):
        response = client.post(f"/api/projects/{pid}/shotlist/{route}", files={"file": (name, content)})
        body = assert_problem(response, 413, field="file")
        assert setting in body["detail"], body["detail"]


def test_a_small_workbook_unpacking_to_400_mb_is_refused_without_reading_it(
    guarded: tuple[httpx.Client, str, int],
) -> None:
    client, pid, server_pid = guarded
    bomb = one_long_string(400 * MB)
    assert len(bomb) < 1 * MB  # the file was 415 KB
    before = _peak_rss_mb(server_pid)
    _refused(client, pid, "bomb.xlsx", bomb, "AIPIPE_SHOTLIST_MAX_UNZIPPED_BYTES")
    assert _peak_rss_mb(server_pid) - before < 64


def test_a_cell_of_50_mb_is_refused_while_streaming_not_after_building_it(
    guarded: tuple[httpx.Client, str, int],
) -> None:
    client, pid, server_pid = guarded
    before = _peak_rss_mb(server_pid)
    _refused(client, pid, "long.xlsx", one_long_string(50 * MB), "AIPIPE_SHOTLIST_MAX_CELL_BYTES")
    assert _peak_rss_mb(server_pid) - before < 40


def test_more_cells_than_the_limit_are_refused_in_every_format(
    guarded: tuple[httpx.Client, str, int],
) -> None:
    client, pid, _ = guarded
    rows = MAX_CELLS // 2 + 10  # two columns each

    def many_cells(sheet: io.BufferedWriter) -> None:
        sheet.write(SHEET_HEAD.rsplit(b"<row r=", 1)[0])
        for row in range(2, rows + 2):
            sheet.write(
                f'<row r="{row}"><c r="A{row}" t="inlineStr"><is><t>SHT_{row}</t></is></c>'
                f'<c r="B{row}" t="inlineStr"><is><t>x</t></is></c></row>'.encode()
            )
        sheet.write(b"</sheetData></worksheet>")

    csv_text = "Shot,Description\n" + "".join(f"SHT_{i},x\n" for i in range(rows))
    as_json = json.dumps({"shots": [{"code": f"SHT_{i}", "description": "x"} for i in range(rows * 2)]})
    for name, content in (
        ("cells.xlsx", _with_sheet(many_cells)),
        ("cells.csv", csv_text.encode()),
        ("cells.json", as_json.encode()),
    ):
        _refused(client, pid, name, content, "AIPIPE_SHOTLIST_MAX_CELLS")
