"""The rules every resource shares: paging and sorting, revisions (409 on stale), change sets."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from .context import UnitOfWork
from .db_errors import integrity_problem
from .errors import NotFound, PreconditionRequired, StaleRevision, Unprocessable

M = TypeVar("M")
OutT = TypeVar("OutT", bound=BaseModel)


@dataclass(frozen=True)
class ListParams:
    limit: int
    offset: int
    sort: list[str]


def page_query(
    session: Session,
    stmt: Select[Any],
    params: ListParams,
    sortable: Mapping[str, Any],
    default_sort: list[str],
) -> tuple[Select[Any], int]:
    """`stmt` sorted and cut to the requested page, and the total number of matching rows."""
    order = []
    for field in params.sort or default_sort:
        name = field.lstrip("-+")
        column = sortable.get(name)
        if column is None:
            raise Unprocessable(
                f"cannot sort by '{name}'; sortable: {', '.join(sorted(sortable))}", field="sort"
            )
        order.append(column.desc() if field.startswith("-") else column.asc())
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    return stmt.order_by(*order).limit(params.limit).offset(params.offset), total


def paginate(
    session: Session,
    stmt: Select[Any],
    params: ListParams,
    sortable: Mapping[str, Any],
    default_sort: list[str],
    to_out: Callable[[Any], OutT],
) -> dict[str, Any]:
    """Apply sorting and paging to an ORM `stmt` and return a page of `to_out(row)`."""
    paged, total = page_query(session, stmt, params, sortable, default_sort)
    rows = session.scalars(paged).all()
    return {
        "items": [to_out(row) for row in rows],
        "total": total,
        "limit": params.limit,
        "offset": params.offset,
    }


def get_or_404(session: Session, model: type[M], entity_id: uuid.UUID, label: str) -> M:
    obj = session.get(model, entity_id)
    if obj is None:
        raise NotFound(f"No {label} with id {entity_id}.", field="id")
    return obj


def expected_revision(body_revision: int | None, header_revision: int | None) -> int:
    if body_revision is not None and header_revision is not None and body_revision != header_revision:
        raise Unprocessable("revision in the body and If-Match disagree", field="revision")
    revision = body_revision if body_revision is not None else header_revision
    if revision is None:
        raise PreconditionRequired(
            "Send the revision you edited (body 'revision' or an If-Match header), so that nobody's "
            "change is silently overwritten.",
            field="revision",
        )
    return revision


def check_revision(obj: Any, expected: int, label: str, current: Callable[[], BaseModel]) -> None:
    if obj.revision != expected:
        raise StaleRevision(
            f"This {label} was changed by someone else (you edited revision {expected}, it is now at "
            f"revision {obj.revision}). Reload it and apply your change again.",
            field="revision",
            current=current().model_dump(mode="json"),
        )


SECRET_FIELDS = frozenset({"password_hash", "key_hash"})


def changed(current: Any, values: Mapping[str, Any]) -> dict[str, list[Any]]:
    """{field: [before, after]} for the `values` that differ from `current`'s attributes (an ORM object or
    a row), for the audit log (secrets masked)."""
    changes: dict[str, list[Any]] = {}
    for name, value in values.items():
        before = getattr(current, name)
        if before != value:
            changes[name] = ["***", "***"] if name in SECRET_FIELDS else [before, value]
    return changes


def apply_changes(obj: Any, values: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Set attributes that differ; return {field: [before, after]} for the audit log (secrets masked)."""
    changes = changed(obj, values)
    for name in changes:
        setattr(obj, name, values[name])
    return changes


def flush_checked(uow: UnitOfWork, obj: Any, label: str, current: Callable[[], BaseModel]) -> None:
    """Flush; a concurrent writer that won the race turns into a 409 with the record as it now is."""
    try:
        uow.session.flush()
    except StaleDataError as exc:
        uow.session.rollback()
        if obj is not None:
            uow.session.refresh(obj)
        raise StaleRevision(
            f"This {label} was changed by someone else while you were saving. Reload and try again.",
            field="revision",
            current=current().model_dump(mode="json"),
        ) from exc
    except IntegrityError as exc:
        uow.session.rollback()
        raise integrity_problem(exc, label) from exc  # names the field; SQL text only in the log


def changes_only(changes: dict[str, list[Any]]) -> dict[str, list[Any]]:
    return {k: v for k, v in changes.items() if k not in ("updated_at", "revision")}
