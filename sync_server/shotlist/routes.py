"""/api/projects/{project_id}/shotlist: export, import preview and apply."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile
from pydantic import ValidationError

from ..auth.permissions import Permission as P
from ..context import UnitOfWork
from ..crud import get_or_404
from ..db.models import Project
from ..deps import ReadSession, ServicesDep, require, uow_for
from ..errors import PayloadTooLarge, Unprocessable
from . import service
from .export import MEDIA_TYPES, Format, Kind, export
from .schemas import Selection
from .settings import ShotlistSettings

router = APIRouter(tags=["shot list"])
Reader = Depends(require(P.PROJECT_READ))
Editor = Annotated[UnitOfWork, Depends(uow_for(P.SHOT_EDIT))]
READ_CHUNK = 1024 * 1024


def shotlist_settings(request: Request) -> ShotlistSettings:
    """Read once per app (from the environment and .env) and kept on the app, not in a module global."""
    found = getattr(request.app.state, "shotlist_settings", None)
    if found is None:
        found = request.app.state.shotlist_settings = ShotlistSettings()
    return found


SettingsDep = Annotated[ShotlistSettings, Depends(shotlist_settings)]


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


async def _content(file: UploadFile, settings: ShotlistSettings) -> bytes:
    chunks, size = [], 0
    while chunk := await file.read(READ_CHUNK):
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
    dependencies=[Depends(require(P.PROJECT_READ))],
    operation_id="preview_shotlist_import",
)
async def preview_import(
    project_id: uuid.UUID,
    services: ServicesDep,
    settings: SettingsDep,
    file: Annotated[UploadFile | None, File(description="xlsx, CSV or JSON shot list.")] = None,
    files: Annotated[
        UploadFile | None, File(description="The same, for clients that name it 'files'.")
    ] = None,
) -> dict[str, Any]:
    """Validate the file and show, per row and field, what applying it would change. Changes nothing."""
    file = _one(file, files)
    content = await _content(file, settings)
    with services.db.read_sessions() as session:
        result = service.preview(session, project_id, file.filename or "upload", content, settings.max_rows)
    return result.as_dict()


def _selection(text: str | None) -> Selection:
    if not text:
        return Selection()
    try:
        return Selection.model_validate(json.loads(text))
    except (ValueError, ValidationError, RecursionError) as exc:
        raise Unprocessable(f"selection is not a valid selection: {exc}", field="selection") from exc


@router.post("/projects/{project_id}/shotlist/apply", operation_id="apply_shotlist_import")
async def apply_import(
    project_id: uuid.UUID,
    uow: Editor,
    settings: SettingsDep,
    file: Annotated[UploadFile | None, File(description="The same file as the preview.")] = None,
    files: Annotated[
        UploadFile | None, File(description="The same, for clients that name it 'files'.")
    ] = None,
    selection: Annotated[str | None, Form(description="JSON: rows/fields to apply, shots to remove.")] = None,
) -> dict[str, Any]:
    """Apply the chosen rows and fields in one transaction; nothing at all while a blocking error remains."""
    file = _one(file, files)
    content = await _content(file, settings)
    chosen = _selection(selection)
    return service.apply(uow, project_id, file.filename or "upload", content, chosen, settings.max_rows)
