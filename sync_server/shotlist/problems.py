"""What an import found wrong, naming the sheet, row and column."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Problem:
    message: str
    sheet: str = ""
    row: int | None = None  # as the spreadsheet numbers it (the header is row 1)
    column: str = ""  # the header as written in the file
    cell: str = ""  # e.g. "F12", where known
    blocking: bool = True

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def where(self) -> str:
        parts = [f"sheet '{self.sheet}'" if self.sheet else "", f"row {self.row}" if self.row else ""]
        parts.append(f"column '{self.column}'" if self.column else "")
        return ", ".join(p for p in parts if p)
