"""What a request works with: who is asking, and a unit of work that records every change it makes."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from .auth.permissions import Permission, role_has
from .db.models import AuditEvent
from .history.recorder import track_change

if TYPE_CHECKING:
    from .events import EventHub

PG_CHANNEL = "aipipe_events"


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
    event_ids: list[int] = field(default_factory=list)
    history: Any = None  # this transaction's change sets (sync_server.history.recorder), made on first edit

    def record(
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
        event = AuditEvent(
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
        self.session.add(event)
        self.session.flush()
        self.event_ids.append(event.id)
        track_change(self, event)
        if self.session.get_bind().dialect.name == "postgresql":
            # Delivered to every listening server process when (and only if) this transaction commits.
            self.session.execute(
                text("SELECT pg_notify(:channel, :payload)"),
                {"channel": PG_CHANNEL, "payload": str(event.id)},
            )
        return event

    def commit(self) -> None:
        self.session.commit()
        self.history = None
        if self.hub is not None and self.event_ids:
            self.hub.announce(list(self.event_ids))
        self.event_ids.clear()


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str, ensure_ascii=False))
