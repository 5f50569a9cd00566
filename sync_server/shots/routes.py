"""/api/projects/{project_id}/shots and /api/shots/{shot_id}"""

from __future__ import annotations

import hashlib
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status
from pydantic import TypeAdapter

from ..auth.permissions import Permission as P
from ..context import UnitOfWork
from ..crud import expected_revision
from ..deps import IfMatch, ListParamsDep, ReadSession, ServicesDep, require, uow_for
from ..schemas import Page
from . import service
from .schemas import LockBody, ReorderBody, ShotCreate, ShotOut, ShotUpdate, Status

router = APIRouter(tags=["shots"])
SHOT_JSON = TypeAdapter(ShotOut)


def _shot_json(item: dict[str, Any]) -> bytes:
    """One shot as the API shows it, validated and serialised in one pass by pydantic-core."""
    return SHOT_JSON.dump_json(SHOT_JSON.validate_python(item))


Reader = Depends(require(P.PROJECT_READ))
Editor = Annotated[UnitOfWork, Depends(uow_for(P.SHOT_EDIT))]
Structure = Annotated[UnitOfWork, Depends(uow_for(P.SHOT_STRUCTURE))]
Approver = Annotated[UnitOfWork, Depends(uow_for(P.SHOT_APPROVE))]


@router.get(
    "/projects/{project_id}/shots",
    response_model=Page[ShotOut],
    dependencies=[Reader],
    operation_id="list_shots",
)
def list_shots(
    project_id: uuid.UUID,
    request: Request,
    services: ServicesDep,
    session: ReadSession,
    params: ListParamsDep,
    scene_id: uuid.UUID | None = None,
    status: Annotated[list[Status] | None, Query(description="One or more statuses.")] = None,
    locked: bool | None = None,
    character_id: uuid.UUID | None = None,
    environment_id: uuid.UUID | None = None,
    preset_id: uuid.UUID | None = None,
    q: Annotated[str | None, Query(description="Text in code, description, action or dialogue.")] = None,
) -> Response:
    filters = {
        "scene_id": scene_id,
        "status": status,
        "locked": locked,
        "character_id": character_id,
        "environment_id": environment_id,
        "preset_id": preset_id,
        "q": q,
    }
    # Shot lists are read far more often than they change (every client refreshes on every event):
    # serve the same bytes until a shot of the project changes, and 304 to a client that has them.
    fingerprint = service.shot_list_fingerprint(session, project_id)
    key = (project_id, str(request.query_params))
    etag = f'"sl-{hashlib.sha1(repr((fingerprint, key)).encode()).hexdigest()[:20]}"'
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag})
    body = services.responses.get(key, fingerprint)
    if body is None:
        body = service.shot_list_json(
            session, project_id, params, filters, services.shot_fragments, _shot_json
        )
        services.responses.put(key, fingerprint, body)
    return Response(body, media_type="application/json", headers={"ETag": etag})


@router.post(
    "/projects/{project_id}/shots",
    response_model=ShotOut,
    status_code=status.HTTP_201_CREATED,
    operation_id="create_shot",
)
def create_shot(project_id: uuid.UUID, body: ShotCreate, uow: Structure) -> ShotOut:
    return service.create_shot(uow, project_id, body)


@router.post(
    "/projects/{project_id}/shots/reorder", response_model=list[ShotOut], operation_id="reorder_shots"
)
def reorder_shots(project_id: uuid.UUID, body: ReorderBody, uow: Structure) -> list[ShotOut]:
    return service.reorder_shots(uow, project_id, body)


@router.get("/shots/{shot_id}", response_model=ShotOut, dependencies=[Reader], operation_id="get_shot")
def get_shot(shot_id: uuid.UUID, session: ReadSession, response: Response) -> ShotOut:
    out = ShotOut.of(service.get_shot(session, shot_id))
    response.headers["ETag"] = f'"{out.revision}"'
    return out


@router.patch("/shots/{shot_id}", response_model=ShotOut, operation_id="update_shot")
def update_shot(shot_id: uuid.UUID, body: ShotUpdate, uow: Editor, if_match: IfMatch) -> ShotOut:
    return service.update_shot(uow, shot_id, body, expected_revision(body.revision, if_match))


@router.delete(
    "/shots/{shot_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="delete_shot",
    responses={200: {"model": ShotOut, "description": "Confirmed project: the shot was omitted."}},
)
def delete_shot(
    shot_id: uuid.UUID, uow: Structure, if_match: IfMatch, revision: Annotated[int | None, Query(ge=1)] = None
) -> Response:
    """Delete a draft shot. In a confirmed project the shot is set to omitted (200) and keeps its files."""
    omitted = service.delete_shot(uow, shot_id, expected_revision(revision, if_match))
    if omitted is not None:
        return Response(omitted.model_dump_json(), media_type="application/json")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/shots/{shot_id}/lock", response_model=ShotOut, operation_id="lock_shot")
def lock_shot(shot_id: uuid.UUID, body: LockBody, uow: Approver, if_match: IfMatch) -> ShotOut:
    return service.set_locked(uow, shot_id, True, expected_revision(body.revision, if_match))


@router.post("/shots/{shot_id}/unlock", response_model=ShotOut, operation_id="unlock_shot")
def unlock_shot(shot_id: uuid.UUID, body: LockBody, uow: Approver, if_match: IfMatch) -> ShotOut:
    return service.set_locked(uow, shot_id, False, expected_revision(body.revision, if_match))
