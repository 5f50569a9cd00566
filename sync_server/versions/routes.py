"""/api/shots/{shot_id}/versions, /api/versions/{version_id}[/files|/thumbnail|/reviews], first frames."""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, FastAPI, Request, Response, status
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from ..auth.permissions import Permission as P
from ..context import UnitOfWork
from ..crud import expected_revision
from ..deps import IfMatch, ListParamsDep, ReadSession, ServicesDep, require_any, uow_for_any
from ..errors import ApiError, PayloadTooLarge
from ..file_response import LargeFileResponse
from ..recipes import ready as recipes_ready
from ..schemas import Page
from ..storage.multipart_stream import drain
from . import review, service
from .schemas import ExtentUpdate, FirstFrameOut, ReviewCreate, ReviewOut, ReviewResult, Stage, VersionOut
from .staging import StagingArea
from .upload import FormReceiver, UploadRules, boundary_of, file_error

FEED_BYTES = 256 * 1024  # body bytes handed to the parser thread at a time


@asynccontextmanager
async def staging_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """At start-up, clean up after crashed uploads and claim this process's staging folder."""
    await staging_of(app)
    try:
        yield
    finally:
        area = getattr(app.state, "version_staging", None)
        if area is not None:
            area.close()


router = APIRouter(tags=["versions"], lifespan=staging_lifespan)


async def staging_of(app: Any) -> StagingArea:
    area = getattr(app.state, "version_staging", None)
    if area is None:
        services = app.state.services
        area = await run_in_threadpool(
            StagingArea.open, services.settings.resolved_storage_root, service.version_exists(services.db)
        )
        app.state.version_staging = area
    return area


# Render agents read versions too: a job's inputs (e.g. the approved first frame) come from them.
Reader = Depends(require_any(P.PROJECT_READ, P.FARM_AGENT))
Publisher = Annotated[UnitOfWork, Depends(uow_for_any(P.SHOT_EDIT, P.FARM_AGENT))]
Reviewer = Annotated[UnitOfWork, Depends(uow_for_any(P.SHOT_EDIT, P.SHOT_APPROVE))]
Editor = Annotated[UnitOfWork, Depends(uow_for_any(P.SHOT_EDIT))]

UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["stage", "files"],
                    "properties": {
                        "stage": {"type": "string", "enum": list(service.STAGES)},
                        "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
                        "comment": {"type": "string"},
                        "provenance": {
                            "type": "string",
                            "description": "JSON object: workflow, prompt, seed, models, inputs, agent, "
                            "gpu_seconds, job_id (other keys are kept).",
                        },
                        "rename": {
                            "type": "boolean",
                            "description": "Name files with the project's version_file_name template.",
                        },
                        "first_frame": {"type": "integer", "description": "The movie's first frame number."},
                        "frame_count": {
                            "type": "integer",
                            "description": "Frames in the movie; default: counted by the server (PyAV).",
                        },
                        "handle_in": {
                            "type": "integer",
                            "description": "Head handle frames the movie holds before the cut (default 0).",
                        },
                        "handle_out": {"type": "integer", "description": "Tail handle frames (default 0)."},
                    },
                }
            }
        },
    }
}


# -- publishing ---------------------------------------------------------------------------------------


@router.post(
    "/shots/{shot_id}/versions",
    response_model=VersionOut,
    status_code=status.HTTP_201_CREATED,
    operation_id="publish_version",
    openapi_extra=UPLOAD_BODY,
)
async def publish_version(
    shot_id: uuid.UUID, request: Request, response: Response, services: ServicesDep, uow: Publisher
) -> VersionOut:
    """Publish files as the next version of the shot at a stage (multipart, streamed to disk)."""
    settings = services.settings
    root = settings.resolved_storage_root
    boundary = boundary_of(request.headers.get("content-type"))
    await run_in_threadpool(service.check_shot_can_publish, services.db, shot_id, root)
    staging = await staging_of(request.app)
    upload = await run_in_threadpool(staging.new_upload)
    rules = UploadRules(
        extensions=frozenset(e.lower().lstrip(".") for e in settings.upload_extensions),
        max_file_bytes=settings.max_upload_bytes,
        text_fields=service.TEXT_FIELDS,
        validate_field=service.validate_field,
    )
    receiver = FormReceiver(boundary, upload.folder, rules)
    try:
        await _receive(request, receiver)
        files = await run_in_threadpool(receiver.finish)
        form = service.publish_form(receiver.fields, files)
        thumbnail = await run_in_threadpool(
            service.describe_media, files, upload.folder, settings.thumbnail_size
        )
        publication = service.Publication(shot_id, form, files, thumbnail, upload)
        out = await run_in_threadpool(service.publish, uow, staging, services.db, root, publication)
    except BaseException:
        receiver.close()
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(staging.discard, upload)
        raise
    response.headers["Location"] = f"/api/versions/{out.id}"
    return out


async def _receive(request: Request, receiver: FormReceiver) -> None:
    """Feed the body to the receiver in a worker thread, FEED_BYTES at a time (the received chunks as
    they are: not joined, which would copy them twice)."""
    stream = request.stream()
    pending: list[bytes] = []
    size = 0
    try:
        async for chunk in stream:
            pending.append(chunk)
            size += len(chunk)
            if size >= FEED_BYTES:
                batch, pending, size = pending, [], 0
                await run_in_threadpool(receiver.write_all, batch)
        await run_in_threadpool(receiver.write_all, pending)
    except PayloadTooLarge as exc:
        if "file" in exc.extra:  # the receiver's own per-file limit
            await drain(stream)
            raise
        # The body limit was reached: parse what had arrived to learn which file it was reached in.
        await run_in_threadpool(receiver.write_all, pending)
        current = receiver.current
        if current is None:
            raise
        raise file_error(
            PayloadTooLarge, current, current.index, current.client_name, exc.detail.rstrip(".")
        ) from exc
    except ClientDisconnect as exc:
        raise ApiError("The upload was interrupted before the body ended.", field="body") from exc
    except ApiError:
        await drain(stream)
        raise


# -- reading ------------------------------------------------------------------------------------------


@router.get(
    "/shots/{shot_id}/versions",
    response_model=Page[VersionOut],
    dependencies=[Reader],
    operation_id="list_versions",
)
def list_versions(
    shot_id: uuid.UUID, session: ReadSession, params: ListParamsDep, stage: Stage | None = None
) -> dict[str, Any]:
    """The shot's versions, newest first (optionally of one stage)."""
    return service.list_versions(session, shot_id, stage, params)


@router.get(
    "/versions/{version_id}", response_model=VersionOut, dependencies=[Reader], operation_id="get_version"
)
def get_version(version_id: uuid.UUID, session: ReadSession, response: Response) -> VersionOut:
    out = VersionOut.of(service.get_version(session, version_id))
    response.headers["ETag"] = f'"{out.revision}"'
    return out


@router.get(
    "/versions/{version_id}/files/{file_id}",
    response_class=FileResponse,
    dependencies=[Reader],
    operation_id="download_version_file",
)
def download_version_file(
    version_id: uuid.UUID, file_id: uuid.UUID, session: ReadSession, services: ServicesDep
) -> FileResponse:
    """The file's bytes; supports Range (206 with Content-Range) and If-Range on the sha256 ETag."""
    path, row = service.file_path(session, services.settings.resolved_storage_root, version_id, file_id)
    etag = {"ETag": f'"{row.sha256}"'}
    return LargeFileResponse(path, media_type=row.mime, filename=row.name, headers=etag)


@router.get(
    "/versions/{version_id}/thumbnail",
    response_class=FileResponse,
    dependencies=[Reader],
    operation_id="get_version_thumbnail",
)
def get_version_thumbnail(version_id: uuid.UUID, session: ReadSession, services: ServicesDep) -> FileResponse:
    path = service.thumbnail_path(session, services.settings.resolved_storage_root, version_id)
    return FileResponse(path, media_type="image/jpeg", content_disposition_type="inline")


@router.get(
    "/shots/{shot_id}/first-frame",
    response_model=FirstFrameOut,
    dependencies=[Reader],
    operation_id="get_first_frame",
)
def get_first_frame(shot_id: uuid.UUID, session: ReadSession) -> FirstFrameOut:
    """The newest approved previz image of the shot (404 naming the shot when there is none)."""
    return review.first_frame(session, shot_id)


@router.patch("/versions/{version_id}", response_model=VersionOut, operation_id="update_version_extent")
def update_version_extent(
    version_id: uuid.UUID, body: ExtentUpdate, uow: Editor, if_match: IfMatch, response: Response
) -> VersionOut:
    """Correct what the version's movie holds (first frame, frame count, head / tail handles); the edit,
    exports and proxy use it from then on."""
    out = service.update_extent(uow, version_id, body, expected_revision(body.revision, if_match))
    response.headers["ETag"] = f'"{out.revision}"'
    return out


# -- review -------------------------------------------------------------------------------------------


@router.post(
    "/versions/{version_id}/reviews",
    response_model=ReviewResult,
    status_code=status.HTTP_201_CREATED,
    operation_id="review_version",
)
def review_version(
    version_id: uuid.UUID, body: ReviewCreate, uow: Reviewer, services: ServicesDep
) -> ReviewResult:
    """A note (shot:edit) and/or a verdict (shot:approve); a verdict may move the shot (docs/versions.md).
    An approved first frame queues the shot's render recipe in a project with auto_render."""
    result = review.add_review(uow, version_id, body)
    recipes_ready.after_review(uow, services.settings, version_id, body.verdict)
    return result


@router.get(
    "/versions/{version_id}/reviews",
    response_model=Page[ReviewOut],
    dependencies=[Reader],
    operation_id="list_reviews",
)
def list_reviews(version_id: uuid.UUID, session: ReadSession, params: ListParamsDep) -> dict[str, Any]:
    return review.list_reviews(session, version_id, params)
