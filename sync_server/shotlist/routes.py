"""/api/projects/{project_id}/shotlist: export, import preview and apply."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, Any, Literal
from urllib.parse import quote

import anyio
from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile

from ..auth.permissions import Permission as P
from ..context import Principal, UnitOfWork
from ..crud import get_or_404
from ..db.models import Project
from ..deps import ReadSession, ServicesDep, require, uow_for
from ..errors import Conflict, PayloadTooLarge, Unprocessable
from .export import MEDIA_TYPES, Format, Kind, export
from .offload import ImportProcesses, import_processes_lifespan
from .planned import ImportJob
from .settings import ShotlistSettings

router = APIRouter(tags=["shot list"], lifespan=import_processes_lifespan)
Reader = Depends(require(P.PROJECT_READ))
ReaderPrincipal = Annotated[Principal, Reader]
Editor = Annotated[UnitOfWork, Depends(uow_for(P.SHOT_EDIT))]
READ_CHUNK = 1024 * 1024
JSON_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {"schema": {"type": "object"}}}, "description": "The answer."}
}


def shotlist_settings(request: Request) -> ShotlistSettings:
    """Read once per app (from the environment and .env) and kept on the app, not in a module global."""
    found = getattr(request.app.state, "shotlist_settings", None)
    if found is None:
        found = request.app.state.shotlist_settings = ShotlistSettings()
    return found


SettingsDep = Annotated[ShotlistSettings, Depends(shotlist_settings)]


async def import_limiter(request: Request, settings: SettingsDep) -> anyio.CapacityLimiter:
    """Imports worked on at once (per app): the rest wait, so imports never take every worker thread."""
    found = getattr(request.app.state, "shotlist_limiter", None)
    if found is None:
        found = request.app.state.shotlist_limiter = anyio.CapacityLimiter(settings.import_workers)
    return found


LimiterDep = Annotated[anyio.CapacityLimiter, Depends(import_limiter)]


def import_processes(request: Request) -> ImportProcesses:
    found = getattr(request.app.state, "shotlist_processes", None)
    if found is None:
        raise Conflict("The shot-list import processes are not running (the server is starting or stopping).")
    return found  # type: ignore[no-any-return]


ProcessesDep = Annotated[ImportProcesses, Depends(import_processes)]


async def _off_loop(work: Callable[[], bytes], limiter: anyio.CapacityLimiter) -> Response:
    """Wait for the import in a worker thread (which waits for the child process that reads, validates,
    diffs and plans it; then writes): nothing of it on the event loop, nor on the server's GIL."""
    return Response(await anyio.to_thread.run_sync(work, limiter=limiter), media_type="application/json")


@router.get(
    "/projects/{project_id}/shotlist/export",
    dependencies=[Reader],
    operation_id="export_shotlist",
    response_class=Response,
    responses={
        200: {"content": {m.split(";")[0]: {} for m in MEDIA_TYPES.values()}, "description": "The file."}
    },
)
def export_shotlist(
    project_id: uuid.UUID,
    session: ReadSession,
    services: ServicesDep,
    settings: SettingsDep,
    kind: Kind = "shots",
    format: Format = "xlsx",
    lang: Annotated[Literal["en", "ko"], Query(description="Header language.")] = "en",
    thumbnails: bool = True,
) -> Response:
    """The shot list (or environments, characters, specs) as xlsx, CSV or JSON."""
    project = get_or_404(session, Project, project_id, "project")
    made = export(
        session,
        project,
        kind,
        format,
        lang=lang,
        storage_root=services.settings.resolved_storage_root if thumbnails else None,
        thumbnail_px=settings.thumbnail_px,
    )
    disposition = f"attachment; filename*=UTF-8''{quote(made.filename)}"
    return Response(
        made.content,
        media_type=made.media_type,
        headers={
            "Content-Disposition": disposition,
            "X-Rows": str(made.rows),
            "X-Thumbnails": str(made.thumbnails),
        },
    )


def _one(file: UploadFile | None, files: UploadFile | None) -> UploadFile:
    if file is not None and files is not None:
        raise Unprocessable("Send one shot list, as 'file'.", field="file")
    found = file or files
    if found is None:
        raise Unprocessable("Send the shot list as the multipart field 'file'.", field="file")
    return found


def _content(file: UploadFile, settings: ShotlistSettings) -> bytes:
    """The uploaded file (spooled by the form parser), read in the worker thread."""
    stream = file.file
    stream.seek(0)
    chunks, size = [], 0
    while chunk := stream.read(READ_CHUNK):
        size += len(chunk)
        if size > settings.max_import_bytes:
            raise PayloadTooLarge(
                f"{file.filename} is larger than {settings.max_import_bytes:,} bytes.", field="file"
            )
        chunks.append(chunk)
    if not size:
        raise Unprocessable(f"{file.filename or 'The file'} is empty.", field="file")
    return b"".join(chunks)


@router.post(
    "/projects/{project_id}/shotlist/import",
    operation_id="preview_shotlist_import",
    response_class=Response,
    responses=JSON_ANSWER,
)
async def preview_import(
    project_id: uuid.UUID,
    principal: ReaderPrincipal,
    services: ServicesDep,
    settings: SettingsDep,
    limiter: LimiterDep,
    processes: ProcessesDep,
    file: Annotated[UploadFile | None, File(description="xlsx, CSV or JSON shot list.")] = None,
    files: Annotated[
        UploadFile | None, File(description="The same, for clients that name it 'files'.")
    ] = None,
) -> Response:
    """Validate the file and show, per row and field, what applying it would change (and what the server
    would refuse, for the caller's role). Changes nothing."""
    upload = _one(file, files)

    def work() -> bytes:
        content = _content(upload, settings)
        job = ImportJob(
            services.settings.resolved_database_url,
            project_id,
            upload.filename or "upload",
            content,
            settings,
            principal,
        )
        return processes.preview(job)

    return await _off_loop(work, limiter)


@router.post(
    "/projects/{project_id}/shotlist/apply",
    operation_id="apply_shotlist_import",
    response_class=Response,
    responses=JSON_ANSWER,
)
async def apply_import(
    project_id: uuid.UUID,
    uow: Editor,
    services: ServicesDep,
    settings: SettingsDep,
    limiter: LimiterDep,
    processes: ProcessesDep,
    file: Annotated[UploadFile | None, File(description="The same file as the preview.")] = None,
    files: Annotated[
        UploadFile | None, File(description="The same, for clients that name it 'files'.")
    ] = None,
    selection: Annotated[str | None, Form(description="JSON: rows/fields to apply, shots to remove.")] = None,
) -> Response:
    """Apply the chosen rows and fields in one transaction; nothing at all while a blocking error remains."""
    upload = _one(file, files)

    def work() -> bytes:
        content = _content(upload, settings)
        job = ImportJob(
            services.settings.resolved_database_url,
            project_id,
            upload.filename or "upload",
            content,
            settings,
            uow.actor,
            selection=selection,  # a selection of thousands of rows is parsed in the child too
            apply=True,
            request_id=uow.request_id,
            remote_addr=uow.remote_addr,
        )
        if uow.hub is None:
            return processes.apply(job).answer
        with uow.hub.child_writing():  # its events are not read back: they come with its answer
            written = processes.apply(job)
            # Committed by the import process, which made (and packed) the messages too: announced from here.
            uow.hub.announce_packed(written.events)
        return written.answer

    return await _off_loop(work, limiter)
