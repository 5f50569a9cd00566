"""/api/projects"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from ..auth.permissions import Permission as P
from ..context import UnitOfWork
from ..crud import expected_revision
from ..deps import IfMatch, ListParamsDep, ReadSession, ServicesDep, require, uow_for
from ..schemas import Page
from . import service
from .schemas import (
    ConfirmBody,
    ConfirmOut,
    NamingOut,
    NamingUpdate,
    ProjectCreate,
    ProjectOut,
    ProjectUpdate,
    UnlockBody,
)

router = APIRouter(prefix="/projects", tags=["projects"])
Reader = Depends(require(P.PROJECT_READ))
Admin = Annotated[UnitOfWork, Depends(uow_for(P.PROJECT_ADMIN))]


@router.get("", response_model=Page[ProjectOut], dependencies=[Reader], operation_id="list_projects")
def list_projects(
    session: ReadSession,
    params: ListParamsDep,
    q: Annotated[str | None, Query(description="Text in code or name.")] = None,
    archived: bool | None = None,
) -> dict:
    return service.list_projects(session, params, q, archived)


@router.post(
    "", response_model=ProjectOut, status_code=status.HTTP_201_CREATED, operation_id="create_project"
)
def create_project(body: ProjectCreate, uow: Admin) -> ProjectOut:
    return service.create_project(uow, body)


@router.get("/{project_id}", response_model=ProjectOut, dependencies=[Reader], operation_id="get_project")
def get_project(project_id: uuid.UUID, session: ReadSession, response: Response) -> ProjectOut:
    out = ProjectOut.of(service.get_project(session, project_id))
    response.headers["ETag"] = f'"{out.revision}"'
    return out


@router.patch("/{project_id}", response_model=ProjectOut, operation_id="update_project")
def update_project(project_id: uuid.UUID, body: ProjectUpdate, uow: Admin, if_match: IfMatch) -> ProjectOut:
    return service.update_project(uow, project_id, body, expected_revision(body.revision, if_match))


@router.delete("/{project_id}", status_code=status.HTTP_204_NO_CONTENT, operation_id="delete_project")
def delete_project(
    project_id: uuid.UUID, uow: Admin, if_match: IfMatch, revision: Annotated[int | None, Query(ge=1)] = None
) -> Response:
    service.delete_project(uow, project_id, expected_revision(revision, if_match))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{project_id}/confirm", response_model=ConfirmOut, operation_id="confirm_project")
def confirm_project(
    project_id: uuid.UUID, body: ConfirmBody, uow: Admin, services: ServicesDep, if_match: IfMatch
) -> ConfirmOut:
    """Lock the shot list and create the production folder tree; again: completes it, changes nothing else."""
    revision = body.revision if body.revision is not None else if_match
    return service.confirm_project(
        uow, project_id, revision, services.settings.resolved_storage_root, services.meta
    )


@router.post("/{project_id}/unlock", response_model=ProjectOut, operation_id="unlock_project")
def unlock_project(project_id: uuid.UUID, body: UnlockBody, uow: Admin, if_match: IfMatch) -> ProjectOut:
    """Unlock the project and its shots for structural edits; the folder tree stays."""
    return service.unlock_project(uow, project_id, expected_revision(body.revision, if_match))


@router.get(
    "/{project_id}/naming", response_model=NamingOut, dependencies=[Reader], operation_id="get_naming"
)
def get_naming(project_id: uuid.UUID, session: ReadSession) -> NamingOut:
    return service.naming_of(service.get_project(session, project_id))


@router.put("/{project_id}/naming", response_model=NamingOut, operation_id="update_naming")
def update_naming(project_id: uuid.UUID, body: NamingUpdate, uow: Admin, if_match: IfMatch) -> NamingOut:
    return service.update_naming(uow, project_id, body, expected_revision(body.revision, if_match))
