"""What a request works with: who is asking, and a unit of work that records every change it makes."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, insert, text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from .auth.permissions import Permission, role_has
from .db.base import utcnow
from .db.models import AuditEvent
from .history.recorder import PreparedItems, prepare_items, track_changes, track_prepared

if TYPE_CHECKING:
    from .events import EventHub

PG_CHANNEL = "aipipe_events"
NOTIFY_IDS = 200  # event ids per notification


EVENTS = AuditEvent.__table__
EVENT_FIELDS = tuple(c.key for c in EVENTS.columns if c.key != "id")
_INSERT_EVENTS = insert(EVENTS).returning(EVENTS.c.id, sort_by_parameter_order=True)


@dataclass
class PreparedEvents:
    """Audit events with their rows (and change items) already as the database driver takes them: JSON
    written, ids and times converted. Made before a write transaction (`prepare_events`), so that inside it
    `record_all` only runs the INSERTs: a bulk import holds SQLite's write lock that much shorter."""

    events: list[Any]
    rows: list[tuple[Any, ...]]  # EVENT_FIELDS in order
    items: PreparedItems


def driver_values(columns: list[Column[Any]], dialect: Dialect) -> Any:
    """A function making one row's values (a dict or an object's attributes) into the tuple the driver
    takes for `columns`: each value through its column type's bind processor, as SQLAlchemy would."""
    processors = [(c.key, c.type.dialect_impl(dialect).bind_processor(dialect)) for c in columns]

    def values(source: Any) -> tuple[Any, ...]:
        get = source.get if isinstance(source, dict) else source.__getattribute__
        return tuple(get(key) if process is None else process(get(key)) for key, process in processors)

    return values


def insert_sql(table: Any, columns: list[Column[Any]], dialect: Dialect) -> str:
    """A plain INSERT of `columns` in the driver's parameter style, for rows made by `driver_values`."""
    quote = dialect.identifier_preparer.quote
    marks = ", ".join("?" if dialect.paramstyle == "qmark" else "%s" for _ in columns)
    names = ", ".join(quote(c.name) for c in columns)
    return f"INSERT INTO {quote(table.name)} ({names}) VALUES ({marks})"


def prepare_events(dialect: Dialect, events: list[Any]) -> PreparedEvents | None:
    """`events` made ready for `record_all(events, prepared=...)` ahead of the write transaction; None
    where that path does not apply (PostgreSQL: its INSERT .. RETURNING gives the ids)."""
    if dialect.name != "sqlite" or not events:
        return None
    values = driver_values([EVENTS.c[key] for key in EVENT_FIELDS], dialect)
    return PreparedEvents(events, [values(event) for event in events], prepare_items(dialect, events))


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

    def record_all(self, events: list[AuditEvent], prepared: PreparedEvents | None = None) -> None:
        """Add audit events with one INSERT, announced when the unit commits (`prepared`: the same events
        made ready ahead by `prepare_events`, so that only the statements run here)."""
        if not events:
            return
        dialect = self.session.get_bind().dialect
        if prepared is not None and prepared.events is events and dialect.name == "sqlite":
            self._record_prepared(prepared, dialect)
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

    def _record_prepared(self, prepared: PreparedEvents, dialect: Dialect) -> None:
        """SQLite: one executemany of the rows as they are (the ids follow from the last one: this
        transaction holds the write lock), then the change items the same way."""
        connection = self.session.connection()
        columns = [EVENTS.c[key] for key in EVENT_FIELDS]
        connection.exec_driver_sql(insert_sql(EVENTS, columns, dialect), prepared.rows)
        last = self.session.scalar(text("SELECT last_insert_rowid()"))
        events = prepared.events
        for event, event_id in zip(events, range(last - len(events) + 1, last + 1), strict=True):
            event.id = event_id
        self.recorded.extend(events)
        track_prepared(self, events, prepared.items)

    def commit(self) -> None:
        self.session.commit()
        self.history = None
        if self.hub is not None and self.recorded:
            self.hub.announce(list(self.recorded))
        self.recorded.clear()


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str, ensure_ascii=False))
