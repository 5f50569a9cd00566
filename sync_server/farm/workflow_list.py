"""`GET /api/farm/workflows`: the workflow templates a user can choose when sending a shot to render.

Read-only; the Blender extension's "Send to render" picker lists these. Broken templates are left out
(the farm CLI reports them to wranglers).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from ..auth.permissions import Permission as P
from ..deps import ServicesDep, require_any
from ..schemas import Output
from . import catalog

router = APIRouter(prefix="/farm", tags=["farm"])


class WorkflowOut(Output):
    name: str
    title: str
    description: str
    job_type: str
    media_kind: str
    min_vram_gb: float
    roles: list[str]


@router.get(
    "/workflows",
    response_model=list[WorkflowOut],
    dependencies=[Depends(require_any(P.RENDER_SUBMIT, P.FARM_MANAGE, P.PROJECT_READ))],
    operation_id="list_workflows",
)
def list_workflows(services: ServicesDep) -> list[WorkflowOut]:
    """The loadable workflow templates, by name, with what each one binds."""
    found = catalog.catalog(services.settings)
    return [
        WorkflowOut(
            name=t.name,
            title=t.meta.title,
            description=t.meta.description,
            job_type=str(t.meta.job_type),
            media_kind=str(t.meta.media_kind),
            min_vram_gb=t.meta.min_vram_gb,
            roles=sorted(t.roles),
        )
        for t in sorted(found.templates.values(), key=lambda t: t.name)
    ]
