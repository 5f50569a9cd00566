"""/api/projects/{project_id}/history, /api/shots/{shot_id}/history, undo and redo."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from ..auth.permissions import Permission as P
from ..context import UnitOfWork
from ..deps import ListParamsDep, ReadSession, require, uow_for
from ..schemas import Page
from . import service
from .schemas import ChangeSetOut, UndoBody, UndoResult

router = APIRouter(tags=["history"])
Reader = Depends(require(P.PROJECT_READ))
Editor = Annotated[UnitOfWork, Depends(uow_for(P.SHOT_EDIT))]


@router.get(
    "/projects/{project_id}/history",
    response_model=Page[ChangeSetOut],
    dependencies=[Reader],
    operation_id="list_project_history",
)
def project_history(project_id: uuid.UUID, session: ReadSession, params: ListParamsDep) -> dict[str, Any]:
    """Every change set of the project, newest first."""
    return service.list_project(session, project_id, params)


@router.get(
    "/shots/{shot_id}/history",
    response_model=Page[ChangeSetOut],
    dependencies=[Reader],
    operation_id="list_shot_history",
)
def shot_history(shot_id: uuid.UUID, session: ReadSession, params: ListParamsDep) -> dict[str, Any]:
    """The change sets that touched this shot, newest first."""
    return service.list_record(session, "shot", shot_id, params)


@router.get(
    "/history/{change_set_id}",
    response_model=ChangeSetOut,
    dependencies=[Reader],
    operation_id="get_change_set",
)
def get_change_set(change_set_id: int, session: ReadSession) -> ChangeSetOut:
    return ChangeSetOut.model_validate(service.get_change_set(session, change_set_id))


@router.post("/projects/{project_id}/history/undo", response_model=UndoResult, operation_id="undo_latest")
def undo_latest(project_id: uuid.UUID, uow: Editor, body: UndoBody | None = None) -> UndoResult:
    """Undo the newest applied edit of the project (or your newest, with `mine`)."""
    return service.undo_latest(uow, project_id, bool(body and body.mine))


@router.post("/projects/{project_id}/history/redo", response_model=UndoResult, operation_id="redo_latest")
def redo_latest(project_id: uuid.UUID, uow: Editor, body: UndoBody | None = None) -> UndoResult:
    """Redo the most recently undone edit of the project (or yours, with `mine`)."""
    return service.redo_latest(uow, project_id, bool(body and body.mine))


@router.post("/history/{change_set_id}/undo", response_model=UndoResult, operation_id="undo_change_set")
def undo_change_set(change_set_id: int, uow: Editor) -> UndoResult:
    return service.undo(uow, change_set_id)


@router.post("/history/{change_set_id}/redo", response_model=UndoResult, operation_id="redo_change_set")
def redo_change_set(change_set_id: int, uow: Editor) -> UndoResult:
    return service.redo(uow, change_set_id)
