"""/api/projects/{project_id}/editorial[/import|/proxies] and /api/editorial/proxies/{proxy_id}[/movie]"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Query, Response, status
from fastapi.responses import FileResponse
from sqlalchemy import select
from starlette.requests import HTTPConnection

from aipipe_shared.naming import PathOutsideRootError, resolve_inside

from ..auth.permissions import Permission as P
from ..context import Principal, UnitOfWork
from ..crud import get_or_404
from ..db.models import Project
from ..db.models_editorial import ProxyRender
from ..deps import ReadSession, ServicesDep, require, uow_for
from ..errors import Conflict, NotFound
from . import changes, service
from .jobs import ProxyJobs
from .schemas import (
    ChangesBody,
    ChangesResult,
    CutBody,
    EditOut,
    Format,
    ImportBody,
    ImportResult,
    ProxyRenderOut,
)

WARNINGS_HEADER = "X-Edit-Warnings"


@asynccontextmanager
async def proxy_jobs_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The app's proxy job runner: made at start-up from the app's services, closed at shutdown."""
    services = app.state.services
    jobs = ProxyJobs(services.db, services.hub, services.settings)
    app.state.editorial_proxy_jobs = jobs
    try:
        yield
    finally:
        jobs.close()


router = APIRouter(tags=["editorial"], lifespan=proxy_jobs_lifespan)


def get_proxy_jobs(conn: HTTPConnection) -> ProxyJobs:
    jobs = getattr(conn.app.state, "editorial_proxy_jobs", None)
    if jobs is None:
        raise Conflict("The proxy job runner is not running (the server is starting or stopping).")
    return jobs


ProxyJobsDep = Annotated[ProxyJobs, Depends(get_proxy_jobs)]
Reader = Depends(require(P.PROJECT_READ))
Structure = Annotated[UnitOfWork, Depends(uow_for(P.SHOT_STRUCTURE))]
Editor = Annotated[Principal, Depends(require(P.SHOT_EDIT))]


@router.get(
    "/projects/{project_id}/editorial",
    dependencies=[Reader],
    operation_id="export_edit",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}, "application/xml": {}, "application/json": {}}}},
)
def export_edit(
    project_id: uuid.UUID,
    session: ReadSession,
    services: ServicesDep,
    format: Annotated[Format, Query(description="otio, cmx_3600 (EDL) or fcp_xml.")] = "otio",
    record_start: Annotated[
        str | None, Query(max_length=16, description="Default from AIPIPE_EDITORIAL_RECORD_START.")
    ] = None,
) -> Response:
    """The edit (shots in order, omitted left out) as OTIO JSON, a CMX 3600 EDL or an FCP 7 XML.

    `X-Edit-Warnings` (a JSON list) names each shot whose movie is shorter than the cut."""
    settings = services.settings
    exported = service.exported_edit(
        session,
        project_id,
        settings.resolved_storage_root,
        format,
        record_start or settings.editorial_record_start,
    )
    return _file_response(exported)


def _file_response(exported: service.Exported) -> Response:
    written = exported.written
    return Response(
        written.text.encode("utf-8"),
        media_type=f"{written.media_type}; charset=utf-8",
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(exported.filename)}",
            # JSON with \u escapes: a header is Latin-1, shot codes may be Korean
            WARNINGS_HEADER: json.dumps(exported.warnings),
        },
    )


@router.get(
    "/projects/{project_id}/editorial/edit",
    response_model=EditOut,
    dependencies=[Reader],
    operation_id="get_edit",
)
def get_edit(project_id: uuid.UUID, session: ReadSession, services: ServicesDep) -> EditOut:
    """The edit as Build edit lays it out: shots in order, lengths, and the media each shows."""
    settings = services.settings
    return service.edit_out(
        session, project_id, settings.resolved_storage_root, settings.editorial_record_start
    )


@router.post(
    "/projects/{project_id}/editorial/cut",
    dependencies=[Reader],
    operation_id="export_cut",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}, "application/xml": {}, "application/json": {}}}},
)
def export_cut(project_id: uuid.UUID, body: CutBody, session: ReadSession, services: ServicesDep) -> Response:
    """A cut the caller describes (the add-on's current VSE) as OTIO JSON, a CMX 3600 EDL or an FCP 7 XML."""
    settings = services.settings
    exported = service.export_cut(
        session,
        project_id,
        settings.resolved_storage_root,
        body,
        body.record_start or settings.editorial_record_start,
    )
    return _file_response(exported)


@router.post(
    "/projects/{project_id}/editorial/changes", response_model=ChangesResult, operation_id="push_edit_changes"
)
def push_edit_changes(project_id: uuid.UUID, body: ChangesBody, uow: Structure) -> ChangesResult:
    """Order, trims, deletions (omitted) and splits (new shots) from the VSE, in one transaction."""
    return changes.apply_changes(uow, project_id, body)


@router.post(
    "/projects/{project_id}/editorial/import", response_model=ImportResult, operation_id="import_edit"
)
def import_edit(project_id: uuid.UUID, body: ImportBody, uow: Structure) -> ImportResult:
    """Match an EDL / XML / OTIO's events to shots (or new ones); `apply` sets durations, adds, reorders."""
    return service.import_edit(uow, project_id, body)


@router.post(
    "/projects/{project_id}/editorial/proxies",
    response_model=ProxyRenderOut,
    status_code=status.HTTP_202_ACCEPTED,
    operation_id="start_proxy_render",
    responses={
        200: {
            "model": ProxyRenderOut,
            "description": "The edit is unchanged since a proxy that succeeded: that proxy, nothing queued.",
        }
    },
)
def start_proxy_render(
    project_id: uuid.UUID, principal: Editor, jobs: ProxyJobsDep, response: Response
) -> ProxyRenderOut:
    """Render the edit into `edit/proxy/vNNN/` in the background; poll the returned render for its status
    (202). An edit unchanged since a render (same cuts, media, rate, size and burn-ins) gets that render
    instead of a new one: 200 where it has succeeded, 202 while it is still queued or running."""
    out = jobs.submit(project_id, principal)
    if out.status == "succeeded":
        response.status_code = status.HTTP_200_OK
    return out


@router.get(
    "/projects/{project_id}/editorial/proxies",
    response_model=list[ProxyRenderOut],
    dependencies=[Reader],
    operation_id="list_proxy_renders",
)
def list_proxy_renders(project_id: uuid.UUID, session: ReadSession) -> list[ProxyRenderOut]:
    get_or_404(session, Project, project_id, "project")
    rows = session.scalars(
        select(ProxyRender).where(ProxyRender.project_id == project_id).order_by(ProxyRender.number.desc())
    )
    return [ProxyRenderOut.of(r) for r in rows]


@router.get(
    "/editorial/proxies/{proxy_id}",
    response_model=ProxyRenderOut,
    dependencies=[Reader],
    operation_id="get_proxy_render",
)
def get_proxy_render(proxy_id: uuid.UUID, session: ReadSession) -> ProxyRenderOut:
    return ProxyRenderOut.of(get_or_404(session, ProxyRender, proxy_id, "proxy render"))


@router.get(
    "/editorial/proxies/{proxy_id}/movie",
    response_class=FileResponse,
    dependencies=[Reader],
    operation_id="download_proxy_movie",
)
def download_proxy_movie(proxy_id: uuid.UUID, session: ReadSession, services: ServicesDep) -> FileResponse:
    row = get_or_404(session, ProxyRender, proxy_id, "proxy render")
    if row.status != "succeeded":
        raise Conflict(f"Proxy v{row.number:03d} is {row.status}, not finished.", field="proxy_id")
    try:
        path = resolve_inside(services.settings.resolved_storage_root, row.path)
    except PathOutsideRootError as exc:
        raise NotFound(f"{row.path} is not inside the storage root.", field="proxy_id") from exc
    return FileResponse(path, media_type="video/mp4", filename=row.path.rsplit("/", 1)[-1])
