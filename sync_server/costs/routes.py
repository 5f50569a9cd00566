"""/api/projects/{id}/costs (+ /budget) and /api/shots/{id}/costs (docs/api.md, "Costs")."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends

from ..auth.permissions import Permission as P
from ..context import UnitOfWork
from ..deps import ReadSession, require_any, uow_for
from ..openapi import problems
from . import service
from .schemas import Budget, BudgetIn, ProjectCosts, ShotCostsDetail

router = APIRouter(tags=["costs"])
Reader = Depends(require_any(P.PROJECT_READ))
Admin = Annotated[UnitOfWork, Depends(uow_for(P.PROJECT_ADMIN))]


@router.get(
    "/projects/{project_id}/costs",
    response_model=ProjectCosts,
    dependencies=[Reader],
    operation_id="project_costs",
    responses=problems(404),
)
def project_costs(project_id: uuid.UUID, session: ReadSession) -> ProjectCosts:
    """GPU time, jobs, retries, takes, renders, models and agents of the project, each scene and each shot,
    and the project's GPU budget with its warning ("80%", "100%")."""
    return service.project_costs(session, project_id)


@router.put(
    "/projects/{project_id}/costs/budget",
    response_model=Budget,
    operation_id="set_gpu_budget",
    responses=problems(404, 422),
)
def set_gpu_budget(project_id: uuid.UUID, body: BudgetIn, uow: Admin) -> Budget:
    """Set (or remove, with null) the project's GPU budget in hours."""
    return service.set_budget(uow, project_id, body)


@router.get(
    "/shots/{shot_id}/costs",
    response_model=ShotCostsDetail,
    dependencies=[Reader],
    operation_id="shot_costs",
    responses=problems(404),
)
def shot_costs(shot_id: uuid.UUID, session: ReadSession) -> ShotCostsDetail:
    """The shot's costs in total, per version and per job (newest first)."""
    return service.shot_costs(session, shot_id)
