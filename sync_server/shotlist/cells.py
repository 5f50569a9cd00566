"""Cell values that a spreadsheet would run as formulas are neutralised on export and restored on import."""

from __future__ import annotations

import re
from typing import Any

# A cell starting with one of these is taken as a formula (or DDE) by Excel, LibreOffice or Sheets.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"


def neutralise(value: Any) -> Any:
    """Text that starts like a formula (or with the quote itself) gets a leading quote; numbers stay."""
    if isinstance(value, str) and value.startswith((*FORMULA_STARTS, QUOTE)):
        return QUOTE + value
    return value


def restore(value: Any) -> Any:
    """The inverse of `neutralise` for text read back from an exported file."""
    if isinstance(value, str) and value.startswith(QUOTE):
        return value[1:]
    return value


# OOXML text (ST_Xstring) writes a character XML cannot hold as _xHHHH_, and so does Excel for a carriage
# return (an XML reader would turn it into a line feed); a literal "_xHHHH_" gets its "_" written as _x005F_.
OOXML_ESCAPED = re.compile(r"_x([0-9A-Fa-f]{4})_")
OOXML_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\ud800-\udfff\ufffe\uffff]|_(?=x[0-9A-Fa-f]{4}_)")


def ooxml_escape(text: str) -> str:
    """Text as an xlsx cell holds it exactly: control characters and CR as _xHHHH_ (what Excel writes)."""
    return OOXML_UNSAFE.sub(lambda m: f"_x{ord(m.group()):04X}_", text)


def ooxml_unescape(text: str) -> str:
    """The inverse of `ooxml_escape`, for text read from an xlsx cell (Excel's own files included)."""
    return OOXML_ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), text) if "_x" in text else text


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters
