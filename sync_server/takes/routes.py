"""/api/shots/{id}/takes, /api/projects/{id}/takes, /api/versions/{id}/use-as-first-frame and /redo,
/api/characters/{id}/references: the image loop (docs/api.md, "Takes")."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from ..auth.permissions import Permission as P
from ..context import UnitOfWork
from ..deps import ListParamsDep, ReadSession, ServicesDep, require_any, uow_for
from ..openapi import problems
from ..recipes import ready as recipes_ready
from ..schemas import Page
from ..versions.routes import _receive, staging_of
from ..versions.upload import FormReceiver, boundary_of
from . import redo as redo_service
from . import references, service
from .schemas import (
    BatchTakeOut,
    BatchTakeRequest,
    RedoRequest,
    ReferenceOut,
    TakeJobs,
    TakeOut,
    TakeRequest,
    UseAsFirstFrame,
)

router = APIRouter(tags=["takes"])

# Queueing takes is sending work to the farm: the same people who may render a shot.
Submitter = Annotated[UnitOfWork, Depends(uow_for(P.RENDER_SUBMIT))]
Approver = Annotated[UnitOfWork, Depends(uow_for(P.SHOT_APPROVE))]
AssetEditor = Annotated[UnitOfWork, Depends(uow_for(P.ASSET_EDIT))]
Reader = Depends(require_any(P.PROJECT_READ))
FileReader = Depends(require_any(P.PROJECT_READ, P.FARM_AGENT))  # agents fetch references as job inputs

REFERENCE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["files"],
                    "properties": {
                        "files": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "minItems": 1,
                            "maxItems": 1,
                            "description": "One image: png, jpg, jpeg or webp (at most 50 MiB).",
                        }
                    },
                }
            }
        },
    }
}


@router.post(
    "/shots/{shot_id}/takes",
    response_model=TakeJobs,
    status_code=status.HTTP_201_CREATED,
    operation_id="queue_takes",
)
def queue_takes(shot_id: uuid.UUID, body: TakeRequest, uow: Submitter, services: ServicesDep) -> TakeJobs:
    """Queue takes of the shot (first-frame candidates): one farm job per candidate."""
    return service.queue_shot_takes(uow, services.settings, shot_id, body)


@router.post(
    "/projects/{project_id}/takes",
    response_model=BatchTakeOut,
    status_code=status.HTTP_202_ACCEPTED,
    operation_id="queue_project_takes",
)
def queue_project_takes(
    project_id: uuid.UUID, body: BatchTakeRequest, uow: Submitter, services: ServicesDep
) -> BatchTakeOut:
    """Generate takes for many shots of the project in one request (all queued, or none)."""
    return service.queue_batch(uow, services.settings, project_id, body)


@router.get(
    "/shots/{shot_id}/takes",
    response_model=Page[TakeOut],
    dependencies=[Reader],
    operation_id="list_takes",
)
def list_takes(shot_id: uuid.UUID, session: ReadSession, params: ListParamsDep) -> dict[str, Any]:
    """The shot's takes, newest first, with their provenance, verdict and which one is the first frame."""
    return service.list_takes(session, shot_id, params)


@router.post(
    "/versions/{version_id}/use-as-first-frame",
    response_model=TakeOut,
    operation_id="use_as_first_frame",
)
def use_as_first_frame(
    version_id: uuid.UUID, body: UseAsFirstFrame, uow: Approver, services: ServicesDep
) -> TakeOut:
    """Approve the take (a review verdict with the note) and make it the shot's first frame; in a project
    with auto_render the shot's render recipe is queued."""
    out = service.use_as_first_frame(uow, version_id, body)
    recipes_ready.after_review(uow, services.settings, version_id, "approve")
    return out


@router.post(
    "/versions/{version_id}/redo",
    response_model=TakeJobs,
    status_code=status.HTTP_201_CREATED,
    operation_id="redo_take",
)
def redo_take(version_id: uuid.UUID, body: RedoRequest, uow: Submitter, services: ServicesDep) -> TakeJobs:
    """Queue the take again: its request and parameters, a new seed unless new_seed is false, the changes."""
    return redo_service.redo(uow, services.settings, version_id, body)


# -- character references ----------------------------------------------------------------------------


@router.post(
    "/characters/{character_id}/references",
    response_model=ReferenceOut,
    status_code=status.HTTP_201_CREATED,
    operation_id="upload_character_reference",
    openapi_extra=REFERENCE_BODY,
    responses={415: {"description": "The body is not multipart/form-data."}},
)
async def upload_character_reference(
    character_id: uuid.UUID, request: Request, response: Response, services: ServicesDep, uow: AssetEditor
) -> ReferenceOut:
    """Add a reference image to the character (multipart, one image in `files`)."""
    settings = services.settings
    boundary = boundary_of(request.headers.get("content-type"))
    await run_in_threadpool(references.check_can_add, services.db, character_id)
    staging = await staging_of(request.app)
    upload = await run_in_threadpool(staging.new_upload)
    receiver = FormReceiver(boundary, upload.folder, references.rules(settings.max_upload_bytes))
    try:
        await _receive(request, receiver)
        files = await run_in_threadpool(receiver.finish)
        image = await run_in_threadpool(references.the_image, files)
        out = await run_in_threadpool(
            references.store, uow, settings.resolved_storage_root, character_id, image
        )
    finally:
        receiver.close()
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(staging.discard, upload)
    response.headers["Location"] = out.url
    return out


@router.get(
    "/characters/{character_id}/references",
    response_model=list[ReferenceOut],
    dependencies=[Reader],
    operation_id="list_character_references",
)
def list_character_references(character_id: uuid.UUID, session: ReadSession) -> list[ReferenceOut]:
    return references.list_references(session, character_id)


@router.get(
    "/characters/{character_id}/references/{reference_id}/file",
    response_class=FileResponse,
    dependencies=[FileReader],
    operation_id="download_character_reference",
    responses=problems(409),
)
def download_character_reference(
    character_id: uuid.UUID, reference_id: uuid.UUID, session: ReadSession, services: ServicesDep
) -> FileResponse:
    path, row = references.file_path(
        session, services.settings.resolved_storage_root, character_id, reference_id
    )
    return FileResponse(path, media_type=row.mime, filename=row.name, headers={"ETag": f'"{row.sha256}"'})


@router.delete(
    "/characters/{character_id}/references/{reference_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="delete_character_reference",
)
def delete_character_reference(
    character_id: uuid.UUID, reference_id: uuid.UUID, uow: AssetEditor, services: ServicesDep
) -> Response:
    references.delete(uow, services.settings.resolved_storage_root, character_id, reference_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
