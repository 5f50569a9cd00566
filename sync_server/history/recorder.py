"""The one hook: `UnitOfWork.record_all` hands its audit events here, and edits of tracked records become
items of this transaction's change set (one per project), written with one INSERT per call."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert
from sqlalchemy.engine import Dialect

from ..db.models_history import ChangeItem, ChangeSet

if TYPE_CHECKING:
    from ..context import UnitOfWork
    from ..db.models import AuditEvent

TRACKED = frozenset({"shot", "scene", "character", "environment"})
ACTIONS = frozenset({"created", "updated", "deleted"})
LABEL_FIELDS = ("code", "name")
MAX_LABEL = 200
ITEMS = ChangeItem.__table__
ITEM_FIELDS = (
    "entity",
    "entity_id",
    "label",
    "action",
    "revision_before",
    "revision_after",
    "changes",
    "snapshot",
)
# (the event's position, the item's values after change_set_id as the driver takes them, the item for labels)
PreparedItems = list[tuple[int, tuple[Any, ...], SimpleNamespace]]


@dataclass
class Recording:
    """What the current transaction is: a plain edit, or the undo/redo of `target_id`."""

    kind: str = "edit"
    target_id: int | None = None
    label: str = ""
    sets: dict[uuid.UUID, ChangeSet] = field(default_factory=dict)
    # What each set holds so far, for its label (items are inserted as rows, not kept as objects).
    items: dict[uuid.UUID, list[SimpleNamespace]] = field(default_factory=dict)


def recording(uow: UnitOfWork) -> Recording:
    if uow.history is None:
        uow.history = Recording()
    return uow.history


def start(uow: UnitOfWork, kind: str, target_id: int | None, label: str) -> Recording:
    """Mark the transaction as an undo/redo (or a labelled edit, e.g. an import) before it records edits."""
    uow.history = Recording(kind=kind, target_id=target_id, label=label)
    return uow.history


def _item(event: Any) -> dict[str, Any] | None:
    """The change item an audit event makes (without its change set), or None for an untracked one."""
    entity, _, action = event.action.rpartition(".")
    if entity not in TRACKED or action not in ACTIONS or event.project_id is None or not event.entity_id:
        return None
    return {
        "entity": entity,
        "entity_id": event.entity_id,
        "label": _record_label(event.data),
        "action": action,
        "revision_before": event.revision_before,
        "revision_after": event.revision_after,
        "changes": dict(event.changes or {}) if action == "updated" else {},
        "snapshot": event.data if action != "updated" else None,
    }


def prepare_items(dialect: Dialect, events: list[Any]) -> PreparedItems:
    """The change items of `events`, made ready for the driver ahead of the write transaction."""
    from ..context import driver_values  # the context imports this module

    values = driver_values([ITEMS.c[key] for key in ITEM_FIELDS], dialect)
    prepared: PreparedItems = []
    for index, event in enumerate(events):
        item = _item(event)
        if item is not None:
            prepared.append((index, values(item), SimpleNamespace(change_set_id=None, **item)))
    return prepared


def track_prepared(uow: UnitOfWork, events: list[AuditEvent], items: PreparedItems) -> None:
    """`track_changes` for items made by `prepare_items`: one executemany of the rows as they are."""
    from ..context import insert_sql

    if not items:
        return
    rec = recording(uow)
    rows: list[tuple[Any, ...]] = []
    touched: set[uuid.UUID] = set()
    for index, values, item in items:
        event = events[index]
        change_set = _change_set(uow, rec, event)
        rows.append((change_set.id, *values))
        rec.items.setdefault(event.project_id, []).append(item)
        touched.add(event.project_id)
    columns = [ITEMS.c.change_set_id, *(ITEMS.c[key] for key in ITEM_FIELDS)]
    uow.session.connection().exec_driver_sql(insert_sql(ITEMS, columns, uow.session.get_bind().dialect), rows)
    if not rec.label:
        for project_id in touched:
            rec.sets[project_id].label = describe(rec.items[project_id])[:MAX_LABEL]


def track_changes(uow: UnitOfWork, events: list[AuditEvent]) -> None:
    """Add the tracked edits among `events` to this transaction's change sets (one INSERT of items)."""
    rec: Recording | None = None
    rows: list[dict[str, Any]] = []
    touched: set[uuid.UUID] = set()
    for event in events:
        item = _item(event)
        if item is None:
            continue
        rec = rec or recording(uow)
        change_set = _change_set(uow, rec, event)
        row = {"change_set_id": change_set.id, **item}
        rows.append(row)
        rec.items.setdefault(event.project_id, []).append(SimpleNamespace(**row))
        touched.add(event.project_id)
    if not rows or rec is None:
        return
    uow.session.execute(insert(ITEMS), rows)
    if not rec.label:
        for project_id in touched:
            rec.sets[project_id].label = describe(rec.items[project_id])[:MAX_LABEL]


def _change_set(uow: UnitOfWork, rec: Recording, event: AuditEvent) -> ChangeSet:
    """This transaction's change set of the event's project, made (and given its id) on first use."""
    assert event.project_id is not None
    change_set = rec.sets.get(event.project_id)
    if change_set is not None and change_set not in uow.session:
        change_set = None  # the transaction was rolled back since: its edits are gone, start afresh
    if change_set is None:
        change_set = ChangeSet(
            project_id=event.project_id,
            actor_id=event.actor_id,
            actor_name=event.actor_name,
            kind=rec.kind,
            target_id=rec.target_id,
            label=rec.label[:MAX_LABEL],
            request_id=event.request_id,
        )
        uow.session.add(change_set)
        uow.session.flush()  # its id, for the items
        rec.sets[event.project_id] = change_set
        rec.items[event.project_id] = []
    return change_set


def _record_label(data: dict[str, Any] | None) -> str:
    for name in LABEL_FIELDS:
        if data and data.get(name):
            return str(data[name])[:MAX_LABEL]
    return ""


def describe(items: list[Any]) -> str:
    """A one-line summary for people: `shot SH010: description, status` or `12 records`."""
    if len(items) == 1:
        item = items[0]
        what = ", ".join(item.changes) if item.action == "updated" else item.action
        return f"{item.entity} {item.label or item.entity_id}: {what}"
    entities = sorted({item.entity for item in items})
    return f"{len(items)} edits ({', '.join(entities)})"
