"""/api/audit"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends
from sqlalchemy import select

from ..auth.permissions import Permission as P
from ..crud import paginate
from ..db.models import AuditEvent
from ..deps import ListParamsDep, ReadSession, require
from ..schemas import Output, Page

router = APIRouter(tags=["audit"])


class AuditEventOut(Output):
    id: int
    at: datetime
    actor_id: uuid.UUID | None
    actor_name: str
    actor_kind: str
    action: str
    entity: str
    entity_id: str | None
    project_id: uuid.UUID | None
    revision_before: int | None
    revision_after: int | None
    changes: dict[str, Any]
    request_id: str | None
    remote_addr: str | None


@router.get(
    "/audit",
    response_model=Page[AuditEventOut],
    dependencies=[Depends(require(P.AUDIT_READ))],
    operation_id="list_audit_events",
)
def list_audit_events(
    session: ReadSession,
    params: ListParamsDep,
    project_id: uuid.UUID | None = None,
    entity: str | None = None,
    entity_id: str | None = None,
    action: str | None = None,
    actor_name: str | None = None,
    after_id: int | None = None,
) -> dict:
    stmt = select(AuditEvent)
    for column, value in (
        (AuditEvent.project_id, project_id),
        (AuditEvent.entity, entity),
        (AuditEvent.entity_id, entity_id),
        (AuditEvent.action, action),
        (AuditEvent.actor_name, actor_name),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if after_id is not None:
        stmt = stmt.where(AuditEvent.id > after_id)
    sortable = {"id": AuditEvent.id, "at": AuditEvent.at}
    return paginate(session, stmt, params, sortable, ["-id"], AuditEventOut.model_validate)
