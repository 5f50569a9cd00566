"""What a request works with: who is asking, and a unit of work that records every change it makes."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, text
from sqlalchemy.orm import Session

from .auth.permissions import Permission, role_has
from .db.base import utcnow
from .db.models import AuditEvent
from .history.recorder import track_changes

if TYPE_CHECKING:
    from .events import EventHub

PG_CHANNEL = "aipipe_events"
NOTIFY_IDS = 200  # event ids per notification


EVENTS = AuditEvent.__table__
EVENT_FIELDS = tuple(c.key for c in EVENTS.columns if c.key != "id")
_INSERT_EVENTS = insert(EVENTS).returning(EVENTS.c.id, sort_by_parameter_order=True)


@dataclass(frozen=True)
class Principal:
    """An authenticated user or API key."""

    id: uuid.UUID
    name: str
    kind: str  # "user" | "api_key" | "system"
    role: str

    def can(self, permission: Permission) -> bool:
        return role_has(self.role, permission)


SYSTEM = Principal(id=uuid.UUID(int=0), name="system", kind="system", role="admin")


@dataclass
class UnitOfWork:
    """One write transaction. `record` adds an audit event; `commit` commits and announces the events."""

    session: Session
    hub: EventHub | None
    actor: Principal
    request_id: str | None = None
    remote_addr: str | None = None
    recorded: list[AuditEvent] = field(default_factory=list)  # this transaction's events, with their ids
    history: Any = None  # this transaction's change sets (sync_server.history.recorder), made on first edit

    def record(self, action: str, entity: str, entity_id: object | None, **details: Any) -> None:
        """Record one audit event (`details`: the keyword arguments of `event`)."""
        self.record_all([self.event(action, entity, entity_id, **details)])

    def event(
        self,
        action: str,
        entity: str,
        entity_id: object | None,
        *,
        project_id: uuid.UUID | None = None,
        revision_before: int | None = None,
        revision_after: int | None = None,
        changes: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
    ) -> AuditEvent:
        """An audit event by this unit's actor, not recorded yet (`record_all`)."""
        return AuditEvent(
            at=utcnow(),
            actor_id=None if self.actor.kind == "system" else self.actor.id,
            actor_name=self.actor.name,
            actor_kind=self.actor.kind,
            action=action,
            entity=entity,
            entity_id=str(entity_id) if entity_id is not None else None,
            project_id=project_id,
            revision_before=revision_before,
            revision_after=revision_after,
            changes=_jsonable(changes or {}),
            data=_jsonable(data) if data is not None else None,
            request_id=self.request_id,
            remote_addr=self.remote_addr,
        )

    def record_all(self, events: list[AuditEvent]) -> None:
        """Add audit events with one INSERT, announced when the unit commits."""
        if not events:
            return
        # Core INSERT .. RETURNING (one statement for many rows), not an ORM flush: the hot paths (claim
        # passes, bulk edits) record many events per transaction.
        rows = [{key: getattr(event, key) for key in EVENT_FIELDS} for event in events]
        if len(rows) > 1 and self.session.get_bind().dialect.name == "sqlite":
            # SQLite cannot return a multi-row INSERT's ids in order (SQLAlchemy would send one INSERT per
            # row): one executemany instead. This transaction holds the write lock, so the ids are
            # consecutive, ending at the last one inserted.
            self.session.execute(insert(EVENTS), rows)
            last = self.session.scalar(text("SELECT last_insert_rowid()"))
            ids = list(range(last - len(rows) + 1, last + 1))
        else:
            ids = self.session.scalars(_INSERT_EVENTS, rows).all()
        for event, event_id in zip(events, ids, strict=True):
            event.id = event_id
        self.recorded.extend(events)
        track_changes(self, events)
        if self.session.get_bind().dialect.name == "postgresql":
            # Delivered to every listening server process when (and only if) this transaction commits.
            # The payload is the ids, comma-separated (PostgreSQL allows 8000 bytes: a few hundred ids).
            ids = [str(event.id) for event in events]
            for start in range(0, len(ids), NOTIFY_IDS):
                self.session.execute(
                    text("SELECT pg_notify(:channel, :payload)"),
                    {"channel": PG_CHANNEL, "payload": ",".join(ids[start : start + NOTIFY_IDS])},
                )

    def commit(self) -> None:
        self.session.commit()
        self.history = None
        if self.hub is not None and self.recorded:
            self.hub.announce(list(self.recorded))
        self.recorded.clear()


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str, ensure_ascii=False))
