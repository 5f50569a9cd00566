"""/api/shots/{id}/depth: the layout's farm work (docs/api.md, "Layout: depth and control video")."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, status

from ..auth.permissions import Permission as P
from ..context import UnitOfWork
from ..deps import ServicesDep, uow_for
from ..farm.schemas import JobOut
from . import depth
from .schemas import DepthRequest

router = APIRouter(tags=["layout"])
Submitter = Annotated[UnitOfWork, Depends(uow_for(P.RENDER_SUBMIT))]


@router.post(
    "/shots/{shot_id}/depth",
    response_model=JobOut,
    status_code=status.HTTP_201_CREATED,
    operation_id="queue_depth",
)
def queue_depth(shot_id: uuid.UUID, body: DepthRequest, uow: Submitter, services: ServicesDep) -> JobOut:
    """Queue a depth image of the shot's first frame; it is published as the shot's next `control` version
    (provenance control_kind 'depth', source_version_id the picture)."""
    return depth.queue_depth(uow, services.settings, shot_id, body)
