"""/api/projects/{project_id}/dailies and /api/dailies/{id}: a day's versions as a reel with slates and a
contact sheet, made by a farm `dailies` job, on demand or at AIPIPE_DAILIES_AT (docs/api.md, "Dailies")."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, status
from fastapi.responses import FileResponse
from sqlalchemy import select

from ..auth.permissions import Permission as P
from ..context import UnitOfWork
from ..crud import get_or_404
from ..db.models import Project
from ..db.models_dailies import Dailies
from ..deps import ReadSession, Services, ServicesDep, require, uow_for
from ..errors import NotFound, Unprocessable
from . import scheduler, service
from .schemas import DailiesMake, DailiesOut


def _wants(message: dict[str, Any]) -> bool:
    return message.get("entity") == "job" and (message.get("data") or {}).get("type") == "dailies"


@asynccontextmanager
async def dailies_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The dailies clock, and a listener that files a dailies job's reel and sheet when it is done."""
    services: Services = app.state.services

    def on_jobs(messages: list[dict[str, Any]]) -> None:  # a worker thread
        for message in messages:
            params = (message.get("data") or {}).get("params") or {}
            if isinstance(params.get("dailies_id"), str):
                service.settle(services.db, services.hub, services.settings, uuid.UUID(params["dailies_id"]))

    services.hub.add_listener(on_jobs, _wants)
    task = asyncio.create_task(scheduler.run_forever(services), name="aipipe-dailies-clock")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


router = APIRouter(tags=["dailies"], lifespan=dailies_lifespan)
Reader = Depends(require(P.PROJECT_READ))
Submitter = Annotated[UnitOfWork, Depends(uow_for(P.RENDER_SUBMIT))]


@router.post(
    "/projects/{project_id}/dailies",
    response_model=DailiesOut,
    status_code=status.HTTP_201_CREATED,
    operation_id="make_dailies",
    responses={409: {"description": "No versions were made that day (problem+json naming `date`)."}},
)
def make_dailies(
    project_id: uuid.UUID, uow: Submitter, services: ServicesDep, body: DailiesMake | None = None
) -> DailiesOut:
    """Queue the dailies of one day (default: today, studio time): a farm job makes the reel and sheet."""
    project = get_or_404(uow.session, Project, project_id, "project")
    settings = services.settings
    today = service.local_today(settings)
    day = body.date if body is not None and body.date is not None else today
    if day > today:
        raise Unprocessable(f"{day.isoformat()} has not come yet ({settings.timezone})", field="date")
    dailies = service.make(uow, settings, project, day)
    return service.dailies_out(dailies, project.code)


@router.get(
    "/projects/{project_id}/dailies",
    response_model=list[DailiesOut],
    dependencies=[Reader],
    operation_id="list_dailies",
)
def list_dailies(
    project_id: uuid.UUID,
    session: ReadSession,
    date: Annotated[dt.date | None, Query(description="Only this day's.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[DailiesOut]:
    """The project's dailies, newest day first (and the day's latest make first)."""
    project = get_or_404(session, Project, project_id, "project")
    stmt = select(Dailies).where(Dailies.project_id == project.id)
    if date is not None:
        stmt = stmt.where(Dailies.day == date)
    rows = session.scalars(stmt.order_by(Dailies.day.desc(), Dailies.number.desc()).limit(limit))
    return [service.dailies_out(row, project.code) for row in rows]


@router.get(
    "/dailies/{dailies_id}", response_model=DailiesOut, dependencies=[Reader], operation_id="get_dailies"
)
def get_dailies(dailies_id: uuid.UUID, services: ServicesDep) -> DailiesOut:
    """One dailies with its versions in reel order and, once made, the URLs of its reel and contact sheet."""
    with services.db.read_sessions() as session:
        state = service.get(session, dailies_id).status
    if state in ("queued", "running"):
        service.settle(services.db, services.hub, services.settings, dailies_id)
    with services.db.read_sessions() as session:
        dailies = service.get(session, dailies_id)
        project = get_or_404(session, Project, dailies.project_id, "project")
        return service.dailies_out(dailies, project.code)


@router.get(
    "/dailies/{dailies_id}/files/{name}",
    response_class=FileResponse,
    dependencies=[Reader],
    responses={200: {"content": {"video/mp4": {}, "text/html": {}}}},
    operation_id="download_dailies_file",
)
def download_dailies_file(
    dailies_id: uuid.UUID, name: str, session: ReadSession, services: ServicesDep
) -> FileResponse:
    """The reel or the contact sheet, by its name in `files`."""
    dailies = service.get(session, dailies_id)
    entry = next((f for f in dailies.files if f["name"] == name), None)
    path = services.settings.resolved_storage_root / entry["path"] if entry else None
    if entry is None or path is None or not path.is_file():
        raise NotFound(f"No file '{name}' in these dailies.", field="name")
    return FileResponse(
        path, media_type=entry["mime"], filename=name, headers={"ETag": f'"{entry["sha256"]}"'}
    )
