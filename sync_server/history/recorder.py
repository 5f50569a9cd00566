"""The one hook: `UnitOfWork.record` hands every audit event here, and edits of tracked records become
items of this transaction's change set (one per project)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..db.models_history import ChangeItem, ChangeSet

if TYPE_CHECKING:
    from ..context import UnitOfWork
    from ..db.models import AuditEvent

TRACKED = frozenset({"shot", "scene", "character", "environment"})
ACTIONS = frozenset({"created", "updated", "deleted"})
LABEL_FIELDS = ("code", "name")
MAX_LABEL = 200


@dataclass
class Recording:
    """What the current transaction is: a plain edit, or the undo/redo of `target_id`."""

    kind: str = "edit"
    target_id: int | None = None
    label: str = ""
    sets: dict[uuid.UUID, ChangeSet] = field(default_factory=dict)


def recording(uow: UnitOfWork) -> Recording:
    if uow.history is None:
        uow.history = Recording()
    return uow.history


def start(uow: UnitOfWork, kind: str, target_id: int | None, label: str) -> Recording:
    """Mark the transaction as an undo/redo (or a labelled edit, e.g. an import) before it records edits."""
    uow.history = Recording(kind=kind, target_id=target_id, label=label)
    return uow.history


def track_change(uow: UnitOfWork, event: AuditEvent) -> None:
    entity, _, action = event.action.rpartition(".")
    if entity not in TRACKED or action not in ACTIONS or event.project_id is None or not event.entity_id:
        return
    rec = recording(uow)
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
        rec.sets[event.project_id] = change_set
    item = ChangeItem(
        entity=entity,
        entity_id=event.entity_id,
        label=_record_label(event.data),
        action=action,
        revision_before=event.revision_before,
        revision_after=event.revision_after,
        changes=dict(event.changes or {}) if action == "updated" else {},
        snapshot=event.data if action != "updated" else None,
    )
    change_set.items.append(item)
    if not rec.label:
        change_set.label = describe(change_set.items)[:MAX_LABEL]


def _record_label(data: dict[str, Any] | None) -> str:
    for name in LABEL_FIELDS:
        if data and data.get(name):
            return str(data[name])[:MAX_LABEL]
    return ""


def describe(items: list[ChangeItem]) -> str:
    """A one-line summary for people: `shot SH010: description, status` or `12 records`."""
    if len(items) == 1:
        item = items[0]
        what = ", ".join(item.changes) if item.action == "updated" else item.action
        return f"{item.entity} {item.label or item.entity_id}: {what}"
    entities = sorted({item.entity for item in items})
    return f"{len(items)} edits ({', '.join(entities)})"
