"""/api/versions/{id}/camera-solve (+ .fspy): the camera of an image version (docs/api.md, "Camera solve")."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import partial
from typing import Annotated, Any, TypeVar

import anyio
from fastapi import APIRouter, Depends, Query, Request, Response

from ..auth.permissions import Permission as P
from ..context import Principal, UnitOfWork
from ..deps import ReadSession, Services, ServicesDep, client_addr, require, require_any
from ..errors import Conflict, PayloadTooLarge, Unprocessable
from ..openapi import problems
from . import service
from .processes import SolveProcesses, solve_processes_lifespan
from .schemas import CameraSolutionOut, CameraSolveRequest
from .settings import CameraSettings

router = APIRouter(tags=["camera"], lifespan=solve_processes_lifespan)
T = TypeVar("T")

Editor = Annotated[Principal, Depends(require(P.SHOT_EDIT))]
Reader = Depends(require_any(P.PROJECT_READ))
FSPY_MEDIA = "application/octet-stream"
FSPY_BODY = {
    "requestBody": {
        "required": True,
        "content": {FSPY_MEDIA: {"schema": {"type": "string", "format": "binary"}}},
        "description": "An fSpy project file (.fspy).",
    }
}


def camera_settings(request: Request) -> CameraSettings:
    """Read once per app (environment and .env), kept on the app."""
    found = getattr(request.app.state, "camera_settings", None)
    if found is None:
        found = request.app.state.camera_settings = CameraSettings()
    return found  # type: ignore[no-any-return]


SettingsDep = Annotated[CameraSettings, Depends(camera_settings)]


async def solve_limiter(request: Request, settings: SettingsDep) -> anyio.CapacityLimiter:
    """Solves worked on at once (per app): the rest wait, so solves never take every worker thread."""
    found = getattr(request.app.state, "camera_solve_limiter", None)
    if found is None:
        found = request.app.state.camera_solve_limiter = anyio.CapacityLimiter(settings.solve_workers)
    return found  # type: ignore[no-any-return]


LimiterDep = Annotated[anyio.CapacityLimiter, Depends(solve_limiter)]


def solve_processes(request: Request) -> SolveProcesses:
    found = getattr(request.app.state, "camera_solve_processes", None)
    if found is None:
        raise Conflict("The camera-solve processes are not running (the server is starting or stopping).")
    return found  # type: ignore[no-any-return]


ProcessesDep = Annotated[SolveProcesses, Depends(solve_processes)]


def _in_unit(
    services: Services, principal: Principal, request: Request, work: Callable[[UnitOfWork], T]
) -> T:
    with services.db.write_sessions() as session:
        uow = UnitOfWork(
            session=session,
            hub=services.hub,
            actor=principal,
            request_id=getattr(request.state, "request_id", None),
            remote_addr=client_addr(request),
        )
        return work(uow)


def _plan(services: Services, version_id: uuid.UUID, body: CameraSolveRequest) -> service.SolvePlan:
    with services.db.read_sessions() as session:
        return service.plan_solve(session, version_id, body, services.settings.resolved_storage_root)


@router.post(
    "/versions/{version_id}/camera-solve",
    response_model=CameraSolutionOut,
    operation_id="solve_camera",
    responses=problems(409),  # the solve processes are not running (start-up, shut-down)
)
async def solve_camera(
    version_id: uuid.UUID,
    body: CameraSolveRequest,
    request: Request,
    principal: Editor,
    services: ServicesDep,
    settings: SettingsDep,
    limiter: LimiterDep,
    processes: ProcessesDep,
) -> CameraSolutionOut:
    """Solve the camera from the version's picture, with the artist's corrections held fixed, and store it
    on the version (replacing the camera it had)."""
    plan = await anyio.to_thread.run_sync(partial(_plan, services, version_id, body))
    # The solve (0.1–1 s of CPU) in a solve process, waited for by a worker thread (a bounded number at
    # once): neither the event loop nor the server's GIL is held by it.
    solution = await anyio.to_thread.run_sync(
        partial(processes.solve, plan, settings.max_image_pixels), limiter=limiter
    )
    store = partial(
        service.store,
        version_id=plan.version_id,
        source="solve",
        image_sha256=plan.image_sha256,
        inputs=plan.inputs,
        solution=solution,
    )
    return await anyio.to_thread.run_sync(partial(_in_unit, services, principal, request, store))


@router.get(
    "/versions/{version_id}/camera-solve",
    response_model=CameraSolutionOut,
    dependencies=[Reader],
    operation_id="get_camera_solution",
)
def get_camera_solution(version_id: uuid.UUID, session: ReadSession) -> CameraSolutionOut:
    """The camera stored on the version (404 when it has none)."""
    return service.stored(session, version_id)


@router.get(
    "/versions/{version_id}/camera-solve.fspy",
    dependencies=[Reader],
    operation_id="export_camera_fspy",
    response_class=Response,
    responses={200: {"content": {FSPY_MEDIA: {}}, "description": "An fSpy project with the picture."}},
)
def export_camera_fspy(version_id: uuid.UUID, session: ReadSession, services: ServicesDep) -> Response:
    """The stored camera as an fSpy project file (opens in fSpy, imports in Blender)."""
    data, name = service.export_fspy(session, version_id, services.settings.resolved_storage_root)
    return Response(
        data, media_type=FSPY_MEDIA, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


async def _read_body(request: Request, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"an fSpy project may be at most {limit} bytes", field="file")
        chunks.append(chunk)
    return b"".join(chunks)


@router.put(
    "/versions/{version_id}/camera-solve.fspy",
    response_model=CameraSolutionOut,
    operation_id="import_camera_fspy",
    openapi_extra=FSPY_BODY,
)
async def import_camera_fspy(
    version_id: uuid.UUID,
    request: Request,
    principal: Editor,
    services: ServicesDep,
    settings: SettingsDep,
    sensor_width_mm: Annotated[
        float | None, Query(gt=1, le=100, description="Default: the shot's preset's sensor, else 36.")
    ] = None,
) -> CameraSolutionOut:
    """An fSpy project (.fspy) as the version's camera: the alternative to solving it here."""
    data = await _read_body(request, settings.max_fspy_bytes)
    if not data:
        raise Unprocessable("the request body is empty: send the .fspy file's bytes", field="file")
    work: Callable[[UnitOfWork], Any] = partial(
        service.import_fspy, version_id=version_id, data=data, sensor_width_mm=sensor_width_mm
    )
    return await anyio.to_thread.run_sync(  # type: ignore[no-any-return]
        partial(_in_unit, services, principal, request, lambda uow: work(uow))
    )
