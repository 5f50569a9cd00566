"""Column types and constraint helpers shared by every table module (no table lives here)."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Integer
from sqlalchemy.dialects.postgresql import JSONB

JsonType = JSON().with_variant(JSONB(), "postgresql")
EventIdType = BigInteger().with_variant(Integer(), "sqlite")


def in_list(column: str, values: tuple[str, ...]) -> str:
    """A CHECK constraint's text: `column IN ('a', 'b')`."""
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"
