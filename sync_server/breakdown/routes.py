"""Breakdown HTTP routes: make a draft from a script, review and edit it, apply or discard it."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response, status
from fastapi.requests import HTTPConnection
from sqlalchemy import select

from ..auth.permissions import Permission as P
from ..context import Principal, UnitOfWork
from ..crud import expected_revision, get_or_404, paginate
from ..db.models import Project
from ..db.models_breakdown import BreakdownDraft
from ..deps import IfMatch, ListParamsDep, ReadSession, ServicesDep, client_addr, require, uow_for
from ..errors import Conflict
from ..openapi import problems
from ..schemas import Page
from . import service, templates
from .offload import BreakdownProcesses, Caller, apply_in_child, breakdown_processes_lifespan, create_in_child
from .schemas import (
    ApplyBody,
    BreakdownCreate,
    DiscardBody,
    DraftOut,
    DraftSummary,
    ItemUpdate,
    TemplateCreate,
    TemplateOut,
)

router = APIRouter(tags=["breakdown"], lifespan=breakdown_processes_lifespan)


def breakdown_processes(conn: HTTPConnection) -> BreakdownProcesses:
    found = getattr(conn.app.state, "breakdown_processes", None)
    if found is None:
        raise Conflict("The breakdown processes are not running (the server is starting or stopping).")
    return found  # type: ignore[no-any-return]


ProcessesDep = Annotated[BreakdownProcesses, Depends(breakdown_processes)]
ItemId = Annotated[str, Path(pattern=r"^(CHR|ENV|SCN|SHT)-[\w-]{1,40}$")]


@router.post(
    "/projects/{project_id}/breakdowns",
    response_model=DraftOut,
    status_code=status.HTTP_201_CREATED,
    operation_id="create_breakdown",
)
def create_breakdown(
    project_id: uuid.UUID,
    body: BreakdownCreate,
    request: Request,
    services: ServicesDep,
    processes: ProcessesDep,
    principal: Annotated[Principal, Depends(require(P.SHOT_STRUCTURE))],
) -> Response:
    """Break a script down into a draft (nothing in the project changes until it is applied).
    LLM failures answer 502 (504 for a timeout) and store nothing."""
    # In a breakdown process: reading a long LLM reply and storing its draft hold no GIL of this process.
    with services.hub.child_writing():  # its events are not read back: they come with its answer
        done = processes.run(
            "making a draft",
            create_in_child,
            services.settings,
            _caller(request, principal),
            project_id,
            body,
        )
        services.hub.announce_packed(done.events)
    return Response(done.answer, status_code=status.HTTP_201_CREATED, media_type="application/json")


@router.get(
    "/projects/{project_id}/breakdowns",
    response_model=Page[DraftSummary],
    operation_id="list_breakdowns",
    dependencies=[Depends(require(P.PROJECT_READ))],
)
def list_breakdowns(project_id: uuid.UUID, session: ReadSession, params: ListParamsDep) -> dict[str, Any]:
    get_or_404(session, Project, project_id, "project")
    stmt = select(BreakdownDraft).where(BreakdownDraft.project_id == project_id)
    sortable = {"created_at": BreakdownDraft.created_at, "status": BreakdownDraft.status}
    return paginate(session, stmt, params, sortable, ["-created_at"], DraftSummary.model_validate)


@router.get(
    "/breakdowns/{draft_id}",
    response_model=DraftOut,
    operation_id="get_breakdown",
    dependencies=[Depends(require(P.PROJECT_READ))],
)
def get_breakdown(draft_id: uuid.UUID, session: ReadSession) -> DraftOut:
    return service.draft_out(session, service.get_draft(session, draft_id))


@router.patch(
    "/breakdowns/{draft_id}/items/{item_id}", response_model=DraftOut, operation_id="update_breakdown_item"
)
def update_item(
    draft_id: uuid.UUID,
    item_id: ItemId,
    body: ItemUpdate,
    if_match: IfMatch,
    uow: Annotated[UnitOfWork, Depends(uow_for(P.SHOT_STRUCTURE))],
) -> DraftOut:
    """Edit, accept (`decision: accepted`) or drop (`decision: dropped`) one character, environment,
    scene or shot of a draft. Needs the draft's revision."""
    return service.update_item(uow, draft_id, item_id, body, expected_revision(body.revision, if_match))


@router.post(
    "/breakdowns/{draft_id}/apply",
    response_model=DraftOut,
    operation_id="apply_breakdown",
    responses=problems(409),  # a stale revision, or the project changed meanwhile (written in a child)
)
def apply_breakdown(
    draft_id: uuid.UUID,
    body: ApplyBody,
    request: Request,
    services: ServicesDep,
    processes: ProcessesDep,
    principal: Annotated[Principal, Depends(require(P.SHOT_STRUCTURE, P.ASSET_EDIT))],
) -> Response:
    """Create the draft's scenes, shots, characters and environments in one transaction; characters
    merge with existing ones by name or alias. `result` lists what was created and merged."""
    # In a breakdown process, planned in a read session first: the write transaction holds only the checks
    # and bulk statements, and none of it holds this process's GIL.
    with services.hub.child_writing():
        done = processes.run(
            "applying a draft",
            apply_in_child,
            services.settings.resolved_database_url,
            _caller(request, principal),
            draft_id,
            body.revision,
        )
        services.hub.announce_packed(done.events)
    return Response(done.answer, media_type="application/json")


def _caller(request: Request, principal: Principal) -> Caller:
    return Caller(principal, getattr(request.state, "request_id", None), client_addr(request))


@router.post("/breakdowns/{draft_id}/discard", response_model=DraftOut, operation_id="discard_breakdown")
def discard_breakdown(
    draft_id: uuid.UUID,
    body: DiscardBody,
    uow: Annotated[UnitOfWork, Depends(uow_for(P.SHOT_STRUCTURE))],
) -> DraftOut:
    return service.discard(uow, draft_id, body.revision)


@router.get("/breakdown/templates", response_model=list[TemplateOut], operation_id="list_breakdown_templates")
def list_templates(
    services: ServicesDep, principal: Annotated[Principal, Depends(require(P.PROJECT_READ))]
) -> list[TemplateOut]:
    """Every version of the breakdown prompt templates (the built-ins appear as version 1)."""
    with services.db.write_sessions() as session:
        for name in templates.BUILTIN:
            templates.current(session, name)
        session.commit()
        return [TemplateOut.model_validate(t) for t in templates.versions(session)]


@router.post(
    "/breakdown/templates",
    response_model=TemplateOut,
    status_code=status.HTTP_201_CREATED,
    operation_id="create_breakdown_template",
)
def create_template(
    body: TemplateCreate, uow: Annotated[UnitOfWork, Depends(uow_for(P.PROJECT_ADMIN))]
) -> TemplateOut:
    """Add the next version of a prompt template; later LLM breakdowns use it and record its version."""
    template = templates.add_version(uow.session, body.name, body.body, body.note, uow.actor.name)
    out = TemplateOut.model_validate(template)
    uow.record(
        "prompt_template.created",
        "prompt_template",
        template.id,
        data=out.model_dump(mode="json"),
    )
    uow.commit()
    return out
