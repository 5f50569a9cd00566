"""OpenEXR header attributes as JSON values (through the OpenEXR bindings; no pixels are read)."""

from __future__ import annotations

import enum
from fractions import Fraction
from pathlib import Path
from typing import Any

import OpenEXR


def header(path: Path) -> dict[str, Any]:
    """Every attribute of the first part's header; raises on a file that is not a readable EXR."""
    with OpenEXR.File(str(path), header_only=True) as exr:
        return {name: jsonable(value) for name, value in exr.header().items()}


def jsonable(value: Any) -> Any:
    if isinstance(value, OpenEXR.Channel):
        return value.name
    if isinstance(value, OpenEXR.TimeCode):
        return f"{value.hours:02d}:{value.minutes:02d}:{value.seconds:02d}:{value.frame:02d}"
    if isinstance(value, (OpenEXR.Rational, Fraction)):
        numerator, denominator = (
            (value.n, value.d) if isinstance(value, OpenEXR.Rational) else value.as_integer_ratio()
        )
        return f"{numerator}/{denominator}" if denominator != 1 else str(numerator)
    if isinstance(value, enum.Enum) or (hasattr(value, "name") and hasattr(value, "value")):
        return str(value.name)  # Python and pybind11 enums alike
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def window_size(attributes: dict[str, Any]) -> tuple[int, int] | None:
    window = attributes.get("dataWindow") or attributes.get("displayWindow")
    try:
        (x0, y0), (x1, y1) = window
        return int(x1) - int(x0) + 1, int(y1) - int(y0) + 1
    except (TypeError, ValueError):
        return None
