"""The exported workbook read back by a second reader (zipfile + XML, no openpyxl): the sheets, the frozen
header, the hidden ID column, the drop-downs and one embedded thumbnail per shot that has a picture."""

from __future__ import annotations

import io
import posixpath
import zipfile
from typing import Any
from xml.etree import ElementTree

from PIL import Image

from tests.support.api import Api
from tests.support.media import png_bytes

NS = {
    "m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "rel": "http://schemas.openxmlformats.org/package/2006/relationships",
    "xdr": "http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing",
    "a": "http://schemas.openxmlformats.org/drawingml/2006/main",
}


class Package:
    """Just enough of SpreadsheetML to find sheets, cells and pictures."""

    def __init__(self, content: bytes) -> None:
        self.zip = zipfile.ZipFile(io.BytesIO(content))
        assert self.zip.testzip() is None

    def xml(self, name: str) -> ElementTree.Element:
        return ElementTree.fromstring(self.zip.read(name))

    def rels(self, part: str) -> dict[str, str]:
        folder, name = posixpath.split(part)
        path = posixpath.join(folder, "_rels", name + ".rels")
        if path not in self.zip.namelist():
            return {}
        return {
            r.get("Id"): posixpath.normpath(posixpath.join(folder, r.get("Target")))
            for r in self.xml(path).findall("rel:Relationship", NS)
        }

    def sheets(self) -> dict[str, tuple[str, str]]:
        """Sheet name -> (part, state)."""
        rels = self.rels("xl/workbook.xml")
        return {
            s.get("name"): (rels[s.get(f"{{{NS['r']}}}id")].lstrip("/"), s.get("state") or "visible")
            for s in self.xml("xl/workbook.xml").find("m:sheets", NS)
        }

    def strings(self) -> list[str]:
        if "xl/sharedStrings.xml" not in self.zip.namelist():
            return []
        return [
            "".join(t.text or "" for t in si.iter(f"{{{NS['m']}}}t"))
            for si in self.xml("xl/sharedStrings.xml")
        ]

    def cells(self, part: str) -> dict[str, Any]:
        shared = self.strings()
        found: dict[str, Any] = {}
        for cell in self.xml(part).iter(f"{{{NS['m']}}}c"):
            value = cell.find("m:v", NS)
            inline = cell.find("m:is", NS)
            if cell.get("t") == "s" and value is not None:
                found[cell.get("r")] = shared[int(value.text)]
            elif inline is not None:
                found[cell.get("r")] = "".join(t.text or "" for t in inline.iter(f"{{{NS['m']}}}t"))
            elif value is not None:
                found[cell.get("r")] = value.text
        return found

    def pictures(self, part: str) -> dict[int, bytes]:
        """0-based row -> image bytes, through the sheet's drawing."""
        pictures: dict[int, bytes] = {}
        for drawing in self.rels(part).values():
            if "drawing" not in drawing:
                continue
            media = self.rels(drawing.lstrip("/"))
            for anchor in self.xml(drawing.lstrip("/")):
                row = int(anchor.find("xdr:from/xdr:row", NS).text)
                blip = anchor.find(".//a:blip", NS)
                pictures[row] = self.zip.read(media[blip.get(f"{{{NS['r']}}}embed")].lstrip("/"))
        return pictures


def test_the_workbook_opens_in_a_second_reader_with_a_thumbnail_per_shot(api: Api) -> None:
    project = api.project()
    pid = project["id"]
    scene = api.scene(pid)
    shots = [api.shot(pid, scene["id"], description=f"shot {i}") for i in range(3)]
    colours = {shots[0]["id"]: "red", shots[2]["id"]: "blue"}
    for shot_id, colour in colours.items():
        published = api.admin.post(
            f"/api/shots/{shot_id}/versions",
            data={"stage": "previz"},
            files=[("files", ("frame.png", png_bytes(640, 360, colour), "image/png"))],
        )
        assert published.status_code == 201, published.text
    response = api.admin.get(f"/api/projects/{pid}/shotlist/export")
    assert response.headers["x-thumbnails"] == "2"
    package = Package(response.content)
    sheets = package.sheets()
    assert sheets["Shots"][1] == "visible" and sheets["aipipe"][1] == "hidden"
    part = sheets["Shots"][0]
    cells = package.cells(part)
    header = {ref.rstrip("1"): value for ref, value in cells.items() if ref[-1] == "1" and ref[:-1].isalpha()}
    assert header["A"] == "ID" and header["C"] == "Thumbnail" and header["F"] == "Shot"
    assert [cells[f"F{row}"] for row in (2, 3, 4)] == [s["code"] for s in shots]
    assert [cells[f"A{row}"] for row in (2, 3, 4)] == [s["id"] for s in shots]
    sheet = package.xml(part)
    pane = sheet.find("m:sheetViews/m:sheetView/m:pane", NS)
    assert pane.get("state") == "frozen" and pane.get("topLeftCell") == "A2"
    hidden = [c for c in sheet.findall("m:cols/m:col", NS) if c.get("hidden") == "1"]
    assert {c.get("min") for c in hidden} >= {"1", "2"}  # ID and revision
    validations = sheet.findall("m:dataValidations/m:dataValidation", NS)
    assert {v.get("sqref").split(":")[0] for v in validations} == {"G2", "O2", "P2"}  # status, preset, env
    pictures = package.pictures(part)
    assert sorted(pictures) == [1, 3]  # rows 2 and 4 (0-based 1 and 3); the middle shot has no picture
    for row, colour in ((1, (255, 0, 0)), (3, (0, 0, 255))):
        with Image.open(io.BytesIO(pictures[row])) as image:
            assert image.format == "JPEG" and max(image.size) == 96
            red, green, blue = image.convert("RGB").getpixel((image.width // 2, image.height // 2))
            assert abs(red - colour[0]) < 40 and abs(blue - colour[2]) < 40 and green < 40
