"""Create / update / delete for any revisioned record, with the audit event and the live event."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, select

from .context import UnitOfWork
from .crud import apply_changes, check_revision, flush_checked
from .db.base import utcnow
from .errors import Conflict, Unprocessable


@dataclass(frozen=True)
class Resource:
    """How one kind of record is named, shown and kept unique."""

    model: type[Any]
    entity: str  # "shot", "scene", ... — the word used in events, audit and messages
    out: Callable[[Any], BaseModel]
    unique_field: str | None = None  # unique per project (case-insensitive)

    def project_of(self, obj: Any) -> uuid.UUID | None:
        return getattr(obj, "project_id", None) or (obj.id if self.entity == "project" else None)


def ensure_unique(
    uow: UnitOfWork,
    res: Resource,
    value: str,
    project_id: uuid.UUID | None,
    except_id: uuid.UUID | None = None,
) -> None:
    if res.unique_field is None:
        return
    column = getattr(res.model, res.unique_field)
    stmt = select(res.model.id).where(func.lower(column) == value.lower())
    if project_id is not None and hasattr(res.model, "project_id"):
        stmt = stmt.where(res.model.project_id == project_id)
    if except_id is not None:
        stmt = stmt.where(res.model.id != except_id)
    if uow.session.scalar(stmt) is not None:
        raise Conflict(
            f"A {res.entity} with {res.unique_field} '{value}' already exists here.", field=res.unique_field
        )


def refuse_nulls(res: Resource, values: dict[str, Any]) -> None:
    """An explicit null for a field that cannot be empty is a 422 naming it, before any database work."""
    columns = res.model.__table__.columns
    for name, value in values.items():
        if value is None and name in columns and not columns[name].nullable:
            raise Unprocessable(f"{name} cannot be null", field=name)


def create(uow: UnitOfWork, res: Resource, obj: Any, *, commit: bool = True) -> BaseModel:
    if res.unique_field:
        ensure_unique(uow, res, getattr(obj, res.unique_field), getattr(obj, "project_id", None))
    uow.session.add(obj)
    flush_checked(uow, obj, res.entity, lambda: res.out(obj))
    out = res.out(obj)
    uow.record(
        f"{res.entity}.created",
        res.entity,
        obj.id,
        project_id=res.project_of(obj),
        revision_after=obj.revision,
        data=out.model_dump(mode="json"),
    )
    if commit:
        uow.commit()
    return out


def update(
    uow: UnitOfWork,
    res: Resource,
    obj: Any,
    values: dict[str, Any],
    revision: int,
    *,
    extra_changes: dict[str, list[Any]] | None = None,
    commit: bool = True,
) -> BaseModel:
    """Apply `values` to `obj` if `revision` is current; a no-op edit changes nothing and records nothing."""
    check_revision(obj, revision, res.entity, lambda: res.out(obj))
    refuse_nulls(res, values)
    if res.unique_field and res.unique_field in values:
        ensure_unique(uow, res, values[res.unique_field], getattr(obj, "project_id", None), obj.id)
    before = obj.revision
    changes = apply_changes(obj, values)
    changes.update(extra_changes or {})
    if not changes:
        return res.out(obj)
    if not uow.session.is_modified(obj, include_collections=False):
        # Only related rows changed (e.g. shot subjects): still a new revision of this record.
        obj.updated_at = utcnow()
    flush_checked(uow, obj, res.entity, lambda: res.out(obj))
    out = res.out(obj)
    uow.record(
        f"{res.entity}.updated",
        res.entity,
        obj.id,
        project_id=res.project_of(obj),
        revision_before=before,
        revision_after=obj.revision,
        changes=changes,
        data=out.model_dump(mode="json"),
    )
    if commit:
        uow.commit()
    return out


def delete(uow: UnitOfWork, res: Resource, obj: Any, revision: int) -> None:
    check_revision(obj, revision, res.entity, lambda: res.out(obj))
    out = res.out(obj)
    project_id = res.project_of(obj)
    uow.session.delete(obj)
    flush_checked(uow, obj, res.entity, lambda: out)
    uow.record(
        f"{res.entity}.deleted",
        res.entity,
        out.id,
        project_id=project_id,  # type: ignore[attr-defined]
        revision_before=revision,
        data=out.model_dump(mode="json"),
    )
    uow.commit()
