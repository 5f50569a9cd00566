"""Reading the history, and undo / redo of change sets.

Undo and redo act on edit change sets. Project undo takes the newest applied one, project redo the most
recently undone one. Either is refused, with the reason, when a later applied edit touched the same fields
(undo that first), or when a field no longer holds the value the change set left there.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..context import UnitOfWork
from ..crud import ListParams, get_or_404, paginate
from ..db.models import Project, Shot
from ..db.models_history import ChangeItem, ChangeSet
from ..errors import Conflict, NotFound
from . import edits, recorder
from .batch import BatchUnitOfWork
from .schemas import ChangeSetOut, UndoResult

WHOLE_RECORD = "*"  # a create or delete touches every field of the record
SORTABLE = {"id": ChangeSet.id, "at": ChangeSet.at}


def list_project(session: Session, project_id: uuid.UUID, params: ListParams) -> dict[str, Any]:
    get_or_404(session, Project, project_id, "project")
    stmt = select(ChangeSet).where(ChangeSet.project_id == project_id)
    return paginate(session, stmt, params, SORTABLE, ["-id"], ChangeSetOut.model_validate)


def list_record(session: Session, entity: str, entity_id: uuid.UUID, params: ListParams) -> dict[str, Any]:
    """The change sets that touched one record, newest first (each with all of its items)."""
    if entity == "shot":
        get_or_404(session, Shot, entity_id, "shot")
    ids = select(ChangeItem.change_set_id).where(
        ChangeItem.entity == entity, ChangeItem.entity_id == str(entity_id)
    )
    stmt = select(ChangeSet).where(ChangeSet.id.in_(ids))
    return paginate(session, stmt, params, SORTABLE, ["-id"], ChangeSetOut.model_validate)


def get_change_set(session: Session, change_set_id: int) -> ChangeSet:
    found = session.get(ChangeSet, change_set_id)
    if found is None:
        raise NotFound(f"No change set {change_set_id}.", field="id")
    return found


def _newest(uow: UnitOfWork, project_id: uuid.UUID, mine: bool, state: str, verb: str) -> ChangeSet:
    """The project's newest edit in `state` (applied: the last made; undone: the last undone), optionally
    only the caller's; 409 naming what there is nothing of."""
    get_or_404(uow.session, Project, project_id, "project")
    order = ChangeSet.id.desc() if state == "applied" else ChangeSet.undone_seq.desc()
    stmt = select(ChangeSet).where(
        ChangeSet.project_id == project_id, ChangeSet.kind == "edit", ChangeSet.state == state
    )
    if mine:
        stmt = stmt.where(ChangeSet.actor_name == uow.actor.name)
    target = uow.session.scalars(stmt.order_by(order).limit(1)).first()
    if target is None:
        raise Conflict(f"Nothing to {verb} in this project.", field="project_id")
    return target


def undo_latest(uow: UnitOfWork, project_id: uuid.UUID, mine: bool) -> UndoResult:
    return undo(uow, _newest(uow, project_id, mine, "applied", "undo").id)


def redo_latest(uow: UnitOfWork, project_id: uuid.UUID, mine: bool) -> UndoResult:
    return redo(uow, _newest(uow, project_id, mine, "undone", "redo").id)


def undo(uow: UnitOfWork, change_set_id: int) -> UndoResult:
    target = get_change_set(uow.session, change_set_id)
    _check_edit(target, "undo")
    if target.state != "applied":
        raise Conflict(f"Change set {target.id} is already undone; redo it instead.", field="id")
    _refuse_later_edits(uow.session, target, "undo")
    batch = BatchUnitOfWork.around(uow)
    recorder.start(batch, "undo", target.id, f"undo #{target.id}: {target.label}")
    for item in reversed(target.items):
        _revert(batch, target, item)
    seq = uow.session.scalar(
        select(func.max(ChangeSet.undone_seq)).where(ChangeSet.project_id == target.project_id)
    )
    target.state, target.undone_seq = "undone", (seq or 0) + 1
    return _finish(batch, target)


def redo(uow: UnitOfWork, change_set_id: int) -> UndoResult:
    target = get_change_set(uow.session, change_set_id)
    _check_edit(target, "redo")
    if target.state != "undone":
        raise Conflict(f"Change set {target.id} is not undone; there is nothing to redo.", field="id")
    _refuse_later_edits(uow.session, target, "redo")
    batch = BatchUnitOfWork.around(uow)
    recorder.start(batch, "redo", target.id, f"redo #{target.id}: {target.label}")
    for item in target.items:
        _replay(batch, target, item)
    target.state, target.undone_seq = "applied", None
    return _finish(batch, target)


def _finish(batch: BatchUnitOfWork, target: ChangeSet) -> UndoResult:
    made = (batch.history.sets.get(target.project_id) if batch.history else None) or None
    batch.session.flush()
    target_out = ChangeSetOut.model_validate(target)
    if made is None:
        raise Conflict(f"Change set {target.id} changes nothing any more.", field="id")
    made_out = ChangeSetOut.model_validate(made)
    batch.finish()
    return UndoResult(target=target_out, change_set=made_out)


def _check_edit(target: ChangeSet, verb: str) -> None:
    if target.kind != "edit":
        raise Conflict(
            f"Change set {target.id} is itself an {target.kind}; {verb} the edit it acted on "
            f"(change set {target.target_id}) instead.",
            field="id",
        )


def _fields(item: ChangeItem) -> set[str]:
    return set(item.changes) if item.action == "updated" else {WHOLE_RECORD}


def _refuse_later_edits(session: Session, target: ChangeSet, verb: str) -> None:
    """A later applied edit of the same record and field must be undone first."""
    touched = {(i.entity, i.entity_id): _fields(i) for i in target.items}
    later = session.scalars(
        select(ChangeSet)
        .where(
            ChangeSet.project_id == target.project_id,
            ChangeSet.id > target.id,
            ChangeSet.kind == "edit",
            ChangeSet.state == "applied",
        )
        .order_by(ChangeSet.id)
    )
    for other in later:
        for item in other.items:
            mine = touched.get((item.entity, item.entity_id))
            if mine is None:
                continue
            theirs = _fields(item)
            overlap = mine & theirs if WHOLE_RECORD not in mine | theirs else mine | theirs
            if overlap:
                fields = ", ".join(sorted(overlap - {WHOLE_RECORD})) or "the whole record"
                when = other.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
                raise Conflict(
                    f"Cannot {verb} change set {target.id} ({target.label}): change set {other.id} by "
                    f"{other.actor_name} at {when} later changed {item.entity} "
                    f"{item.label or item.entity_id} ({fields}). Undo change set {other.id} first.",
                    field="id",
                    blocking_change_set=other.id,
                    fields=sorted(overlap),
                )


def _must_hold(obj: Any, item: ChangeItem, expected: int, verb: str, target: ChangeSet) -> None:
    """Every field must still hold the value the change set left (undo) or found (redo)."""
    current = _current(obj)
    for name, pair in item.changes.items():
        if current.get(name) != pair[expected]:
            raise Conflict(
                f"Cannot {verb} change set {target.id}: {item.entity} {item.label or item.entity_id} "
                f"{name} is now {current.get(name)!r}, not {pair[expected]!r} as that change set "
                "expects (it was changed outside the history, e.g. by a migration or restore).",
                field="id",
            )


def _current(obj: Any) -> dict[str, Any]:
    """The record's fields as the history stores them (JSON values)."""
    values = {c.key: getattr(obj, c.key) for c in obj.__table__.columns}
    if hasattr(obj, "subjects") and isinstance(obj.subjects, list):
        values["subjects"] = [
            {"character_id": str(s.character_id), "clothing": s.clothing} for s in obj.subjects
        ]
    return json.loads(json.dumps(values, default=str, ensure_ascii=False))


def _revert(uow: UnitOfWork, target: ChangeSet, item: ChangeItem) -> None:
    obj = edits.load(uow.session, item.entity, item.entity_id)
    if item.action == "updated":
        if obj is None:
            raise Conflict(f"Cannot undo: {item.entity} {item.label} no longer exists.", field="id")
        _must_hold(obj, item, 1, "undo", target)
        edits.update(uow, item.entity, obj, {k: v[0] for k, v in item.changes.items()})
    elif item.action == "created":
        if obj is None:
            return  # already gone: undoing its creation changes nothing
        edits.delete(uow, item.entity, obj)
    else:
        if obj is not None:
            raise Conflict(f"Cannot undo: {item.entity} {item.label} exists again.", field="id")
        edits.recreate(uow, item.entity, target.project_id, item.snapshot or {})


def _replay(uow: UnitOfWork, target: ChangeSet, item: ChangeItem) -> None:
    obj = edits.load(uow.session, item.entity, item.entity_id)
    if item.action == "updated":
        if obj is None:
            raise Conflict(f"Cannot redo: {item.entity} {item.label} no longer exists.", field="id")
        _must_hold(obj, item, 0, "redo", target)
        edits.update(uow, item.entity, obj, {k: v[1] for k, v in item.changes.items()})
    elif item.action == "created":
        if obj is not None:
            raise Conflict(f"Cannot redo: {item.entity} {item.label} exists already.", field="id")
        edits.recreate(uow, item.entity, target.project_id, item.snapshot or {})
    elif obj is not None:
        edits.delete(uow, item.entity, obj)
