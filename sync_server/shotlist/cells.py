"""Cell values that a spreadsheet would run as formulas are neutralised on export and restored on import."""

from __future__ import annotations

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


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters
