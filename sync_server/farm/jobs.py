"""Jobs: submit (with dependencies), read, and the wrangler's retry / cancel / priority."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import String, cast, func, select
from sqlalchemy.orm import Session

from aipipe_shared.workflows import (
    SLOTTED_INPUT_ROLES,
    TemplateBindError,
    WorkflowTemplate,
    bind,
    check_bindings,
    check_params,
    validate_graph,
)

from .. import resources
from ..context import UnitOfWork
from ..crud import ListParams, check_revision, get_or_404, page_query
from ..db.base import utcnow
from ..db.models import Agent, ComfyObjectInfo, Job, JobDependency, Project, Shot
from ..errors import Conflict, Unprocessable
from ..settings import Settings
from . import catalog, failures
from .schemas import CPU_JOB_TYPES, JobOut, JobSubmit

SORTABLE = {"priority": Job.priority, "created_at": Job.created_at, "status": Job.status, "type": Job.type}
FINISHED = ("succeeded", "failed", "cancelled")


def job_out(session: Session, job: Job, parents: list[uuid.UUID] | None = None) -> JobOut:
    """The job as the API shows it, with its parents and the names a wrangler reads (agent, project)."""
    if parents is None:
        parents = list(
            session.scalars(select(JobDependency.parent_id).where(JobDependency.job_id == job.id)).all()
        )
    agent = session.get(Agent, job.agent_id) if job.agent_id else None  # identity map: one query per agent
    project = session.get(Project, job.project_id) if job.project_id else None
    return job_out_of(
        {c.key: getattr(job, c.key) for c in Job.__table__.columns},
        parents,
        agent.name if agent else None,
        project.code if project else None,
    )


def job_out_of(
    columns: Mapping[str, Any], parents: list[uuid.UUID], agent_name: str | None, project_code: str | None
) -> JobOut:
    """The job as the API shows it, from its columns (an ORM job's, or a row's in the claim pass)."""
    return JobOut.model_validate(
        {**columns, "depends_on": parents, "agent_name": agent_name, "project_code": project_code}
    )


def _res(session: Session) -> resources.Resource:
    return resources.Resource(Job, "job", lambda job: job_out(session, job))


def get_job(session: Session, job_id: uuid.UUID) -> Job:
    return get_or_404(session, Job, job_id, "job")


def list_jobs(session: Session, params: ListParams, filters: dict[str, Any]) -> dict[str, Any]:
    stmt = select(Job)
    for name in ("status", "type"):
        if filters.get(name):
            stmt = stmt.where(getattr(Job, name).in_(filters[name]))
    for name in ("project_id", "shot_id", "agent_id"):
        if filters.get(name):
            stmt = stmt.where(getattr(Job, name) == filters[name])
    if filters.get("id_prefix"):
        # Hexadecimal digits only (checked by the route); dashes are ignored on either side.
        stmt = stmt.where(func.replace(cast(Job.id, String), "-", "").like(f"{filters['id_prefix']}%"))
    # A page of jobs in a fixed number of queries (parents, agent names, project codes read for all at once).
    paged, total = page_query(session, stmt, params, SORTABLE, ["-priority", "created_at"])
    rows = session.scalars(paged).all()
    parents: dict[uuid.UUID, list[uuid.UUID]] = {}
    if rows:
        for job_id, parent_id in session.execute(
            select(JobDependency.job_id, JobDependency.parent_id).where(
                JobDependency.job_id.in_([job.id for job in rows])
            )
        ):
            parents.setdefault(job_id, []).append(parent_id)
    agent_ids = {job.agent_id for job in rows if job.agent_id}
    project_ids = {job.project_id for job in rows if job.project_id}
    names = (
        dict(session.execute(select(Agent.id, Agent.name).where(Agent.id.in_(agent_ids))).tuples().all())
        if agent_ids
        else {}
    )
    codes = (
        dict(
            session.execute(select(Project.id, Project.code).where(Project.id.in_(project_ids)))
            .tuples()
            .all()
        )
        if project_ids
        else {}
    )
    items = [
        job_out_of(
            {c.key: getattr(job, c.key) for c in Job.__table__.columns},
            parents.get(job.id, []),
            names.get(job.agent_id) if job.agent_id else None,
            codes.get(job.project_id) if job.project_id else None,
        )
        for job in rows
    ]
    return {"items": items, "total": total, "limit": params.limit, "offset": params.offset}


def submit(
    uow: UnitOfWork,
    settings: Settings,
    body: JobSubmit,
    inputs: list[dict[str, Any]] | None = None,
    extra: dict[str, Any] | None = None,
) -> JobOut:
    """Validate, bind the workflow and queue the job (it runs when its parents have succeeded)."""
    session = uow.session
    values = bound_values(session, settings, body, inputs)
    project_id = body.project_id
    if body.shot_id is not None:
        shot = get_or_404(session, Shot, body.shot_id, "shot")
        if project_id is not None and project_id != shot.project_id:
            raise Unprocessable("shot_id is not a shot of project_id", field="shot_id")
        project_id = shot.project_id
    if project_id is not None:
        get_or_404(session, Project, project_id, "project")
    parents = list(dict.fromkeys(body.depends_on))
    for index, parent_id in enumerate(parents):
        if session.get(Job, parent_id) is None:
            raise Unprocessable("no such job", field=f"depends_on.{index}")
    upstream = failures.upstream_failure(session, parents)
    if upstream is not None:  # it can never run; a retry of the parent requeues it
        values.update(status="failed", error=upstream, finished_at=utcnow())
    job = Job(
        project_id=project_id,
        shot_id=body.shot_id,
        output_stage=body.output_stage,
        type=body.type,
        priority=body.priority,
        tags=list(body.tags),
        workflow=body.workflow,
        params=dict(body.params),
        inputs=list(inputs or []),
        max_attempts=body.max_attempts,
        timeout_s=body.timeout_s,
        estimate_s=body.estimate_s or 60.0,
        created_by=uow.actor.name,
        **values,
        **(extra or {}),
    )
    session.add(job)
    session.flush()
    session.add_all(JobDependency(job_id=job.id, parent_id=p) for p in parents)
    return resources.create(uow, _res(session), job)  # type: ignore[return-value]


def bound_values(
    session: Session,
    settings: Settings,
    body: JobSubmit,
    inputs: list[dict[str, Any]] | None,
    tpl: WorkflowTemplate | None = None,
    infos: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The job's bound graph, model and VRAM need (the template's roles filled from `body.params` and the
    inputs' names), refused (422 naming the parameter) when no agent could run it. `tpl` and `infos` (the
    agents' node catalogues): given by a caller that binds many jobs of one template at once."""
    values: dict[str, Any] = {"graph": None, "model": None, "min_vram_gb": 0.0}
    if body.type in CPU_JOB_TYPES:
        return values
    if not body.workflow:
        raise Unprocessable(f"a {body.type} job needs a workflow", field="workflow")
    tpl = tpl or catalog.template(settings, body.workflow)
    if tpl.meta.job_type != body.type:
        raise Unprocessable(
            f"workflow '{tpl.name}' is a {tpl.meta.job_type} workflow, not {body.type}", field="workflow"
        )
    problems = check_bindings(tpl)
    if problems:
        raise Unprocessable(f"workflow '{tpl.name}': {problems[0]}", field="workflow")
    placeholders: dict[str, Any] = {}
    for item in inputs or []:
        if item["role"] in SLOTTED_INPUT_ROLES:  # several inputs of one role fill its slots in order
            placeholders.setdefault(item["role"], []).append(item["name"])
        else:
            placeholders[item["role"]] = item["name"]
    try:
        values["graph"] = bind(tpl, {**body.params, **placeholders})
    except TemplateBindError as exc:
        raise Unprocessable(str(exc), field="params") from exc
    refused = check_params(tpl, values["graph"])
    if refused:  # it would fail on every agent: refused now, not after a queue wait and a GPU run
        raise Unprocessable(
            f"workflow '{tpl.name}': {refused[0][1]}",
            errors=[{"field": f"params.{role}", "message": message} for role, message in refused],
        )
    check_graph(agent_object_infos(session) if infos is None else infos, values["graph"], tpl)
    values.update(model=catalog.model_key(tpl), min_vram_gb=tpl.meta.min_vram_gb)
    return values


def agent_object_infos(session: Session) -> list[dict[str, Any]]:
    """The node catalogues (/object_info) the agents reported, once each."""
    return list(
        session.scalars(
            select(ComfyObjectInfo.data).where(
                ComfyObjectInfo.sha256.in_(
                    select(Agent.object_info_sha).where(Agent.object_info_sha.is_not(None))
                )
            )
        ).all()
    )


def check_against_agents(session: Session, graph: dict[str, Any], tpl: WorkflowTemplate) -> None:
    check_graph(agent_object_infos(session), graph, tpl)


def check_graph(infos: list[dict[str, Any]], graph: dict[str, Any], tpl: WorkflowTemplate) -> None:
    """The bound graph must be one that at least one agent's ComfyUI accepts (as its /object_info says):
    node classes (the declared custom node packs included), required inputs, types, ranges and options.
    The refusal names the first problem and what the template needs (minimum ComfyUI, custom node packs).
    Without any report yet, agents check it."""
    if not infos:
        return
    reports = [
        validate_graph(graph, info, custom_node_classes=tpl.meta.custom_node_classes) for info in infos
    ]
    if any(report.runnable for report in reports):
        return
    problems = reports[0].errors + reports[0].missing_custom_nodes
    needs = f" (it needs {tpl.meta.requirements_text})" if tpl.meta.requirements_text else ""
    raise Unprocessable(
        f"No agent's ComfyUI accepts workflow '{tpl.name}'{needs}: {problems[0]}",
        errors=[
            {
                "field": f"graph.{p.node_id}.{p.input_name}" if p.input_name else f"graph.{p.node_id}",
                "message": str(p),
            }
            for p in problems
        ],
    )


def cancel(uow: UnitOfWork, job_id: uuid.UUID) -> JobOut:
    """Queued: cancelled now. Running: the agent is told at its next heartbeat and releases it."""
    session = uow.session
    job = get_job(session, job_id)
    if job.status in FINISHED:
        raise Conflict(f"The job is already {job.status}.", field="id")
    values: dict[str, Any] = {"cancel_requested": True}
    if job.status == "queued":
        values.update(status="cancelled", finished_at=utcnow())
    out = resources.update(uow, _res(session), job, values, job.revision, commit=False)
    if job.status == "cancelled":
        failures.fail_children(uow, job, "was cancelled", lambda j: job_out(session, j))
    uow.commit()
    return out  # type: ignore[return-value]


def retry(uow: UnitOfWork, job_id: uuid.UUID) -> JobOut:
    """Queue a failed or cancelled job again with a clean slate (attempts, failed agents)."""
    session = uow.session
    job = get_job(session, job_id)
    if job.status not in ("failed", "cancelled"):
        raise Conflict(f"Only failed or cancelled jobs are retried; this one is {job.status}.", field="id")
    values = {
        "status": "queued",
        "attempts": 0,
        "failed_agents": [],
        "failures": [],
        "lease_losses": 0,
        "error": "",
        "cancel_requested": False,
        "not_before": None,
        "finished_at": None,
        "progress": 0.0,
        "stage_text": "",
    }
    upstream = failures.upstream_failure(session, list(_parent_ids(session, job.id)))
    if upstream is not None:
        parent = upstream.removeprefix(failures.UPSTREAM)
        raise Conflict(f"This job waits on job {parent}: retry that one.", field="id")
    out = resources.update(uow, _res(session), job, values, job.revision, commit=False)
    failures.requeue_children(uow, job, lambda j: job_out(session, j))  # the children its failure failed
    uow.commit()
    return out  # type: ignore[return-value]


def _parent_ids(session: Session, job_id: uuid.UUID) -> list[uuid.UUID]:
    return list(session.scalars(select(JobDependency.parent_id).where(JobDependency.job_id == job_id)))


def set_priority(uow: UnitOfWork, job_id: uuid.UUID, priority: int, revision: int | None) -> JobOut:
    session = uow.session
    job = get_job(session, job_id)
    if revision is not None:
        check_revision(job, revision, "job", lambda: job_out(session, job))
    return resources.update(uow, _res(session), job, {"priority": priority}, job.revision)  # type: ignore[return-value]


def queue_depth(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Job).where(Job.status == "queued")) or 0


def shot_to_work_on(session: Session, shot_id: uuid.UUID) -> Shot:
    """The shot a render or playblast job is for; an omitted shot gets no new work (409)."""
    shot = get_or_404(session, Shot, shot_id, "shot")
    if shot.status == "omitted":
        raise Conflict(f"Shot {shot.code} is omitted.", field="shot_id")
    return shot
