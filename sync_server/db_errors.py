"""Database errors as problem+json naming the field: never SQL text, never a 500 for a client's value."""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import BigInteger, Integer, event, inspect
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from .db.base import Base
from .errors import ApiError, Conflict, Unprocessable, problem

logger = logging.getLogger(__name__)

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
_SQLITE_COLUMNS = re.compile(r"constraint failed: (.+)$")
_SQLITE_CHECK = re.compile(r"CHECK constraint failed: (\w+)")


def _constraint_columns(name: str) -> list[str]:
    """The columns of a named constraint or index in the models (empty when unknown)."""
    for table in Base.metadata.tables.values():
        for constraint in (*table.constraints, *table.indexes):
            if constraint.name == name:
                return [c.key for c in getattr(constraint, "columns", [])]
    return []


def _field_of(exc: IntegrityError) -> tuple[str | None, str]:
    """(field, kind) of a constraint violation; kind is unique, foreign_key, not_null, check or other."""
    orig = exc.orig
    diag = getattr(orig, "diag", None)
    if diag is not None:  # PostgreSQL (psycopg)
        kind = {"23505": "unique", "23503": "foreign_key", "23502": "not_null", "23514": "check"}.get(
            getattr(orig, "sqlstate", "") or "", "other"
        )
        if diag.column_name:
            return diag.column_name, kind
        columns = _constraint_columns(diag.constraint_name or "")
        return (columns[-1] if columns else None), kind
    message = str(orig)
    kind = next(
        (
            k
            for word, k in (
                ("UNIQUE", "unique"),
                ("FOREIGN KEY", "foreign_key"),
                ("NOT NULL", "not_null"),
                ("CHECK", "check"),
            )
            if message.startswith(word)
        ),
        "other",
    )
    if kind == "check":
        check = _SQLITE_CHECK.search(message)
        columns = _constraint_columns(check.group(1)) if check else []
        return (columns[-1] if columns else None), kind
    found = _SQLITE_COLUMNS.search(message)
    if found and found.group(1).startswith("index '"):  # a unique index on an expression
        columns = _constraint_columns(found.group(1)[len("index '") : -1])
        return (columns[-1] if columns else None), kind
    if found and kind in ("unique", "not_null"):
        return found.group(1).split(",")[-1].strip().rsplit(".", 1)[-1], kind
    return None, kind


def integrity_problem(exc: IntegrityError, label: str = "record") -> ApiError:
    """A constraint violation as the client's error: which field, and what to do, in plain words."""
    field, kind = _field_of(exc)
    if kind == "unique":
        what = f"{field} " if field else ""
        return Conflict(f"Another {label} already has this {what}value; choose another.", field=field)
    if kind == "not_null":
        return Unprocessable(f"{field or 'A required field'} cannot be empty.", field=field)
    if kind == "foreign_key":
        return Conflict(
            f"This {label} refers to a record that does not exist (any more), or is still referred to.",
            field=field,
        )
    if kind == "check":
        return Unprocessable(f"A value of this {label} is out of its allowed range.", field=field)
    return Conflict(f"This {label} conflicts with existing data.", field=field)


def _integer_limit(column: Any) -> int | None:
    if isinstance(column.type, BigInteger):
        return INT64_MAX
    if isinstance(column.type, Integer):
        return INT32_MAX  # PostgreSQL integer (int4); held to the same range on SQLite
    return None


def _nul_path(value: Any, path: str) -> str | None:
    """The path of the first string holding a NUL character inside a JSON value, or None."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list | tuple):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        if "\x00" in str(key):
            return f"{path}.{key}"
        found = _nul_path(item, f"{path}.{key}")
        if found is not None:
            return found
    return None


def check_column_values(session: Session, _context: Any, _instances: Any) -> None:
    """Before a flush: what a column cannot hold is a 422 naming it, on both databases alike (PostgreSQL
    refuses NUL in text, SQLite keeps it; PostgreSQL's integer is 32 bits, SQLite's 64)."""
    for obj in (*session.new, *session.dirty):
        state = inspect(obj)
        for column in state.mapper.columns:
            if column.key not in state.dict:
                continue
            value = state.dict[column.key]
            if isinstance(value, str | dict | list):
                where = _nul_path(value, column.key)
                if where is not None:
                    raise Unprocessable(
                        f"{where} contains a NUL character (\\u0000), which text cannot hold.", field=where
                    )
                continue
            limit = _integer_limit(column)
            if limit is None or not isinstance(value, int) or isinstance(value, bool):
                continue
            if not -limit - 1 <= value <= limit:
                raise Unprocessable(
                    f"{column.key} must be between {-limit - 1} and {limit}, not {value}.", field=column.key
                )


def watch_sessions(*factories: sessionmaker[Session]) -> None:
    """Check column values on every flush of sessions made by `factories`."""
    for factory in factories:
        event.listen(factory, "before_flush", check_column_values)


def install_db_error_handlers(app: FastAPI) -> None:
    """Last guards for what slipped past validation: the client gets a 4xx, the log gets the details."""

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        logger.warning("constraint violation: %s", exc.orig, extra={"path": request.url.path})
        err = integrity_problem(exc)
        return problem(request, err.status, err.title, err.detail, err.type_slug, err.errors)

    @app.exception_handler(DataError)
    async def _data(request: Request, exc: DataError) -> JSONResponse:
        logger.warning("value refused by the database: %s", exc.orig, extra={"path": request.url.path})
        return problem(
            request,
            422,
            "Invalid input",
            "A value is out of range or not storable (e.g. a NUL character).",
            "validation",
        )

    @app.exception_handler(RecursionError)
    async def _recursion(request: Request, exc: RecursionError) -> JSONResponse:
        logger.warning("input nested too deeply", extra={"path": request.url.path})
        return problem(request, 422, "Invalid input", "The input is nested too deeply.", "validation")
