"""Reading an xlsx package's sheets straight from their XML, one row at a time (ElementTree's C parser):
several times faster than openpyxl's cell objects for a 20,000-row sheet, and text exactly as stored
(shared and inline strings alike; the caller undoes the OOXML `_xHHHH_` escapes)."""

from __future__ import annotations

import posixpath
import re
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator
from typing import Any

REL_ID = re.compile(r"^\{[^}]*relationships\}id$")
DIMENSION = re.compile(r"([A-Z]+)(\d+)$")


class SheetCell:
    """A cell's value and OOXML type: s (text), n (number), b, e (error), d (date text), f (formula)."""

    __slots__ = ("data_type", "value")

    def __init__(self, value: Any, data_type: str = "n") -> None:
        self.value = value
        self.data_type = data_type


EMPTY = SheetCell(None)


_LOCAL: dict[str, str] = {}  # "{namespace}row" -> "row": a dict lookup per element, not a string split


def _local(tag: str) -> str:
    found = _LOCAL.get(tag)
    if found is None:
        found = tag.rpartition("}")[2]
        if len(_LOCAL) < 1000:  # bounded: a hostile file may invent many tag names
            _LOCAL[tag] = found
    return found


class SheetBook:
    """The sheets of an xlsx package by name (in workbook order) and their shared strings."""

    def __init__(self, package: zipfile.ZipFile) -> None:
        self.package = package
        root_rels = self._relationships("_rels/.rels", "")
        workbook = next((t for kind, t in root_rels.values() if kind.endswith("/officeDocument")), None)
        if workbook is None:
            raise KeyError("the package names no workbook part")
        folder = posixpath.dirname(workbook)
        rels = self._relationships(f"{folder}/_rels/{posixpath.basename(workbook)}.rels", folder)
        self.sheets: dict[str, str] = {}  # name -> part path
        with package.open(workbook) as stream:
            for _, element in ET.iterparse(stream):
                if _local(element.tag) == "sheet":
                    rel = next((v for k, v in element.attrib.items() if REL_ID.match(k)), None)
                    if rel in rels and element.get("name"):
                        self.sheets[element.attrib["name"]] = rels[rel][1]
        strings = next((t for kind, t in rels.values() if kind.endswith("/sharedStrings")), None)
        self.strings = self._shared_strings(strings) if strings and strings in package.namelist() else []

    def _relationships(self, part: str, folder: str) -> dict[str, tuple[str, str]]:
        """{id: (type, part path)} of a .rels part (targets resolved against `folder`)."""
        found: dict[str, tuple[str, str]] = {}
        with self.package.open(part) as stream:
            for _, element in ET.iterparse(stream):
                if _local(element.tag) == "Relationship" and element.get("Id") and element.get("Target"):
                    target = element.attrib["Target"]
                    path = target.lstrip("/") if target.startswith("/") else posixpath.join(folder, target)
                    found[element.attrib["Id"]] = (element.get("Type", ""), posixpath.normpath(path))
        return found

    def _shared_strings(self, part: str) -> list[str]:
        strings: list[str] = []
        with self.package.open(part) as stream:
            for _, element in ET.iterparse(stream):
                if _local(element.tag) == "si":
                    strings.append(_text(element))
                    element.clear()
        return strings

    def last_row(self, name: str) -> int | None:
        """The last row the sheet's <dimension> claims (read before its rows), or None."""
        with self.package.open(self.sheets[name]) as stream:
            for _, element in ET.iterparse(stream, events=("start",)):
                local = _local(element.tag)
                if local == "dimension":
                    found = DIMENSION.search(element.get("ref", ""))
                    return int(found.group(2)) if found else None
                if local == "sheetData":
                    return None
        return None

    def rows(self, name: str) -> Iterator[list[SheetCell]]:
        """Each row's cells by column (EMPTY where none), rows numbered from 1 without gaps."""
        expected = 1
        with self.package.open(self.sheets[name]) as stream:
            for _, element in ET.iterparse(stream):
                if _local(element.tag) != "row":
                    continue
                number = int(element.get("r") or expected)
                while expected < number:  # rows the sheet leaves out are empty rows
                    yield []
                    expected += 1
                yield self._cells(element)
                expected = number + 1
                element.clear()

    def _cells(self, row: ET.Element) -> list[SheetCell]:
        cells: list[SheetCell] = []
        for cell in row:
            if _local(cell.tag) != "c":
                continue
            ref = cell.get("r")
            index = _column_index(ref) if ref else len(cells)
            while len(cells) < index:
                cells.append(EMPTY)
            cells.append(self._cell(cell))
        return cells

    def _cell(self, cell: ET.Element) -> SheetCell:
        kind = cell.get("t", "n")
        value: str | None = None
        formula: str | None = None
        inline: str | None = None
        for child in cell:
            local = _local(child.tag)
            if local == "v":
                value = child.text
            elif local == "f":
                formula = child.text or ""
            elif local == "is":
                inline = _text(child)
        if formula is not None:
            return SheetCell(f"={formula}", "f")
        if kind == "inlineStr":
            return SheetCell(inline, "s")
        if value is None:
            return EMPTY
        if kind == "s":
            index = int(value)
            if not 0 <= index < len(self.strings):
                raise ValueError(f"cell {cell.get('r')} refers to shared string {index}, which is not there")
            return SheetCell(self.strings[index], "s")
        if kind == "b":
            return SheetCell(value.strip() == "1", "b")
        if kind in ("str", "e", "d"):
            return SheetCell(value, "s" if kind == "str" else kind)
        return SheetCell(_number(value), "n")


def _text(element: ET.Element) -> str:
    """A string item's text: its <t>, or its rich-text runs' <t> (not the phonetic guides)."""
    parts: list[str] = []
    for child in element:
        local = _local(child.tag)
        if local == "t":
            parts.append(child.text or "")
        elif local == "r":
            parts.extend(run.text or "" for run in child if _local(run.tag) == "t")
    return "".join(parts)


def _column_index(ref: str) -> int:
    """'A1' -> 0, 'AB7' -> 27."""
    index = 0
    for char in ref:
        if not "A" <= char <= "Z":
            break
        index = index * 26 + ord(char) - 64
    return index - 1


def _number(text: str) -> Any:
    try:
        return float(text) if any(c in text for c in ".Ee") else int(text)
    except ValueError:
        return text
