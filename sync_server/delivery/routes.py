"""/api/projects/{project_id}/conform, /api/projects/{project_id}/deliveries and
/api/deliveries/{delivery_id}[/files/{name}] (docs/api.md, "Delivery")."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, status
from fastapi.responses import FileResponse
from sqlalchemy import select

from aipipe_shared.naming import PathOutsideRootError, resolve_inside

from ..auth.permissions import Permission as P
from ..context import UnitOfWork
from ..crud import get_or_404
from ..db.models_delivery import Delivery
from ..deps import ReadSession, Services, ServicesDep, require, uow_for
from ..errors import NotFound
from ..openapi import problems
from . import service
from .schemas import ConformBody, DeliveryBody, DeliveryOut
from .settle import Settler, settle

MEDIA_TYPES = {".mov": "video/quicktime", ".mp4": "video/mp4"}


@asynccontextmanager
async def settler_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Deliveries are recorded as their jobs end: one listener on the app's event hub."""
    services: Services = app.state.services
    settler = Settler(services)
    services.hub.add_listener(settler.handle, settler.wants)
    yield


router = APIRouter(tags=["delivery"], lifespan=settler_lifespan)
Reader = Depends(require(P.PROJECT_READ))
Submitter = Annotated[UnitOfWork, Depends(uow_for(P.RENDER_SUBMIT))]


def _settle_open(services: Services, rows: list[tuple[uuid.UUID, str]]) -> None:
    for delivery_id, state in rows:
        if state in ("queued", "running"):
            settle(services, delivery_id)


@router.post(
    "/projects/{project_id}/conform",
    response_model=DeliveryOut,
    status_code=status.HTTP_201_CREATED,
    operation_id="conform_edit",
    responses=problems(422),
)
def conform_edit(
    project_id: uuid.UUID, body: ConformBody, uow: Submitter, services: ServicesDep
) -> DeliveryOut:
    """Queue a conform of the edit (a farm `conform` job) as the next delivery/vNNN, without masters."""
    return service.submit(uow, services.settings, project_id, body)


@router.post(
    "/projects/{project_id}/deliveries",
    response_model=DeliveryOut,
    status_code=status.HTTP_201_CREATED,
    operation_id="create_delivery",
    responses=problems(422),
)
def create_delivery(
    project_id: uuid.UUID, body: DeliveryBody, uow: Submitter, services: ServicesDep
) -> DeliveryOut:
    """Queue a conform and one master per format (farm `master` jobs waiting on it) as the next
    delivery/vNNN; 422 names every shot that cannot be conformed."""
    return service.submit(uow, services.settings, project_id, body)


@router.get(
    "/projects/{project_id}/deliveries",
    response_model=list[DeliveryOut],
    dependencies=[Reader],
    operation_id="list_deliveries",
)
def list_deliveries(project_id: uuid.UUID, session: ReadSession, services: ServicesDep) -> list[DeliveryOut]:
    """The project's deliveries, newest first, with their jobs' progress."""
    open_rows = session.execute(
        select(Delivery.id, Delivery.status).where(Delivery.project_id == project_id)
    ).tuples()
    _settle_open(services, list(open_rows))
    session.rollback()  # a new snapshot: SQLite's read transaction would not see what settle wrote
    return service.list_deliveries(session, project_id)


@router.get(
    "/deliveries/{delivery_id}",
    response_model=DeliveryOut,
    dependencies=[Reader],
    operation_id="get_delivery",
)
def get_delivery(delivery_id: uuid.UUID, session: ReadSession, services: ServicesDep) -> DeliveryOut:
    row = get_or_404(session, Delivery, delivery_id, "delivery")
    _settle_open(services, [(row.id, row.status)])
    session.rollback()  # a new snapshot: SQLite's read transaction would not see what settle wrote
    return service.delivery_out(session, get_or_404(session, Delivery, delivery_id, "delivery"))


@router.get(
    "/deliveries/{delivery_id}/files/{name}",
    response_class=FileResponse,
    dependencies=[Reader],
    operation_id="download_delivery_file",
)
def download_delivery_file(
    delivery_id: uuid.UUID, name: str, session: ReadSession, services: ServicesDep
) -> FileResponse:
    """The conform or a master of the delivery, by its file name."""
    row = get_or_404(session, Delivery, delivery_id, "delivery")
    entries = [row.conform] if row.conform else []
    entries += [m["file"] for m in row.masters or [] if m.get("file") and m.get("status") == "succeeded"]
    entry = next((e for e in entries if e["name"] == name), None)
    if entry is None:
        raise NotFound(f"delivery v{row.number:03d} has no finished file named {name}", field="name")
    try:
        path = resolve_inside(services.settings.resolved_storage_root, entry["path"])
    except PathOutsideRootError as exc:
        raise NotFound(f"{entry['path']} is not inside the storage root.", field="name") from exc
    suffix = name[name.rfind(".") :].lower()
    return FileResponse(path, media_type=MEDIA_TYPES.get(suffix, "application/octet-stream"), filename=name)
