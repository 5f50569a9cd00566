"""/api/farm: the agent protocol (docs/agent-protocol.md) and the wrangler's view and controls."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response, status
from fastapi.responses import FileResponse
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from aipipe_shared.aio import wait_event

from ..auth.permissions import Permission as P
from ..context import SYSTEM, Principal, UnitOfWork
from ..db.base import utcnow
from ..db.models import Agent, Job
from ..deps import (
    ListParamsDep,
    PrincipalDep,
    ReadSession,
    Services,
    ServicesDep,
    get_services,
    require,
    require_any,
    uow_for,
)
from ..errors import Forbidden, NotFound, Unprocessable
from ..file_response import LargeFileResponse
from ..openapi import problems
from ..schemas import Page
from ..storage.atomic import fsync_dir
from ..versions.routes import staging_of
from . import agents, jobs, lease, outputs_upload, previews, throughput
from .claim import ClaimRequest
from .lease_owner import OwnLease
from .outputs_upload import OutputsReceiver
from .publish import publish_outputs
from .renewals import Renewals
from .renewals import agent_heartbeat as agent_beat
from .schemas import (
    AgentAction,
    AgentHeartbeat,
    AgentOut,
    AgentRegister,
    AgentRegistered,
    BlockOut,
    Claim,
    ClaimBody,
    FarmStatus,
    JobAction,
    JobComplete,
    JobFail,
    JobHeartbeat,
    JobOut,
    JobSubmit,
    JobWatchAction,
    JobWatchBody,
    LeaseBody,
    PriorityBody,
)
from .watch import JobWatch

logger = logging.getLogger(__name__)


def _sweep(services: Services, renewals: Renewals) -> None:
    # This process's pending heartbeats first: a lease it answered is never taken for want of its write.
    _flush(services, renewals)
    with services.db.write_sessions() as session:
        lease.expire_leases(UnitOfWork(session=session, hub=services.hub, actor=SYSTEM), services.settings)


def _flush(services: Services, renewals: Renewals) -> None:
    written = renewals.flush(services.db)
    if written:
        # Heartbeats answered while another transaction held the database, written now.
        logger.info("farm heartbeats written late", extra={"heartbeats": written})


def renewals_of(request: Request) -> Renewals:
    """The app's pending heartbeat writes (made by the farm's lifespan)."""
    renewals: Renewals = request.app.state.farm_renewals
    return renewals


def _grant_restart_grace(services: Services) -> None:
    with services.db.write_sessions() as session:
        extended = lease.grant_restart_grace(session, services.settings)
    if extended:
        logger.info(
            "farm: %d running job(s) get %d s to hear from their agents again",
            extended,
            services.settings.farm_lease_s,
        )


@asynccontextmanager
async def farm_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Expire leases of agents that went silent, even while nobody claims."""
    services: Services = app.state.services

    renewals = Renewals()
    app.state.farm_renewals = renewals

    async def sweeper() -> None:
        while True:
            await asyncio.sleep(services.settings.farm_sweep_s)
            try:
                await run_in_threadpool(_sweep, services, renewals)
            except Exception:
                logger.exception("farm: expiring leases failed; will try again")

    async def flusher() -> None:
        while True:
            await asyncio.sleep(services.settings.farm_lease_flush_s)
            if renewals.pending():
                try:
                    await run_in_threadpool(_flush, services, renewals)
                except Exception:
                    logger.exception("farm: writing heartbeats failed; will try again")

    # Agents could not renew their leases while no server ran: they get one lease period to reach us.
    await run_in_threadpool(_grant_restart_grace, services)
    watch = JobWatch()
    app.state.farm_watch = watch
    services.hub.add_loop_listener(watch.on_event)
    services.hub.add_commit_listener(watch.on_commit)
    tasks = [
        asyncio.create_task(sweeper(), name="aipipe-farm-sweeper"),
        asyncio.create_task(flusher(), name="aipipe-farm-heartbeat-flusher"),
    ]
    await services.claims.start()
    try:
        yield
    finally:
        await services.claims.stop()
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        try:
            await run_in_threadpool(_flush, services, renewals)  # answered heartbeats are not dropped
        except Exception:
            logger.exception("farm: writing the last heartbeats failed")


router = APIRouter(prefix="/farm", tags=["farm"], lifespan=farm_lifespan)
AgentUow = Annotated[UnitOfWork, Depends(uow_for(P.FARM_AGENT))]
Wrangler = Annotated[UnitOfWork, Depends(uow_for(P.FARM_MANAGE))]
Submitter = Annotated[UnitOfWork, Depends(uow_for(P.RENDER_SUBMIT))]
AgentOnly = Depends(require(P.FARM_AGENT))
FarmReader = Depends(require_any(P.FARM_MANAGE, P.PROJECT_READ))
LEASE_LOST = "Lease lost (`lease-lost`): the job is no longer leased to this lease id; drop it."
LEASE_LOST_OR_CLASH = LEASE_LOST + " Or an output of that name already holds other bytes."
# Bodies these routes read themselves (streamed), declared so that clients and the contract test see them.
OBJECT_INFO_BODY = {
    "requestBody": {
        "required": True,
        "description": "ComfyUI's `GET /object_info`, as the agent's ComfyUI answered it.",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "minProperties": 1,
                    "additionalProperties": {"type": "object"},
                    "description": "Node class name → its description (input, output, category…).",
                }
            }
        },
    }
}
OUTPUTS_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["lease_id", "files"],
                    "properties": {
                        "lease_id": {"type": "string", "minLength": 1},
                        "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
                    },
                }
            }
        },
    }
}


# -- the agent protocol -------------------------------------------------------------------------------


@router.post("/agents/register", response_model=AgentRegistered, operation_id="register_agent")
def register_agent(body: AgentRegister, uow: AgentUow, services: ServicesDep) -> AgentRegistered:
    return agents.register(uow, services.settings, body)


@router.post(
    "/agents/{agent_id}/heartbeat",
    response_model=AgentAction,
    operation_id="agent_heartbeat",
    dependencies=[AgentOnly],
)
def agent_heartbeat(
    agent_id: uuid.UUID, body: AgentHeartbeat, principal: PrincipalDep, request: Request
) -> AgentAction:
    services = get_services(request)
    action, reading = agent_beat(services.db, renewals_of(request), agent_id, principal, body)
    services.hub.publish_live(reading)
    return AgentAction(action=action)  # type: ignore[arg-type]


@router.put(
    "/agents/{agent_id}/object-info",
    operation_id="put_agent_object_info",
    dependencies=[AgentOnly],
    openapi_extra=OBJECT_INFO_BODY,
)
async def put_object_info(agent_id: uuid.UUID, request: Request, principal: PrincipalDep) -> dict[str, str]:
    """The agent's ComfyUI `GET /object_info`, sent after registering: jobs are checked against it."""
    services = get_services(request)
    body = await request.body()

    def store() -> str:
        # Parsed here, in the worker thread: a ComfyUI /object_info is megabytes of JSON.
        try:
            info = json.loads(body)
        except (ValueError, RecursionError) as exc:
            raise Unprocessable("the body must be ComfyUI's /object_info JSON", field="body") from exc
        with services.db.write_sessions() as session:
            return agents.store_object_info(session, agents.own_agent(session, agent_id, principal), info)

    return {"sha256": await run_in_threadpool(store)}


@router.post(
    "/agents/{agent_id}/claim",
    response_model=Claim,
    operation_id="claim_job",
    responses={204: {"description": "Nothing came within wait_s."}},
    dependencies=[AgentOnly],
)
async def claim_job(agent_id: uuid.UUID, body: ClaimBody, request: Request, principal: PrincipalDep) -> Any:
    """Long-poll: answers as soon as a job this agent should run is queued, or 204 after `wait_s`."""
    services = get_services(request)
    wanted = ClaimRequest(
        agent_id=agent_id,
        actor=principal,
        loaded_models=body.loaded_models,
        request_id=getattr(request.state, "request_id", None),
    )
    wait_s = min(body.wait_s, services.settings.farm_claim_wait_max_s)
    found = await services.claims.claim(wanted, wait_s, request.is_disconnected)
    if found is not None and await request.is_disconnected():
        # The agent hung up (it stopped, or gave up its claim) while a pass leased it this job: nobody will
        # run it under that lease, so it goes back to the queue now instead of when the lease runs out.
        await run_in_threadpool(_give_back, services, principal, found)
        found = None
    if found is None:
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    # Already a validated Claim: serialised once, not validated again against the response model.
    return Response(found.model_dump_json(), media_type="application/json")


def _give_back(services: Services, agent: Principal, claim: Claim) -> None:
    with services.db.write_sessions() as session:
        uow = UnitOfWork(session=session, hub=services.hub, actor=agent)
        lease.release(uow, claim.job.id, claim.lease.id)
    logger.info("farm: job %s went back to the queue: its claim's agent hung up", claim.job.id)


@router.post(
    "/jobs/{job_id}/heartbeat",
    response_model=JobAction,
    operation_id="job_heartbeat",
    dependencies=[AgentOnly, OwnLease],
    responses=problems(409, reasons={409: LEASE_LOST}),
)
def job_heartbeat(job_id: uuid.UUID, body: JobHeartbeat, request: Request) -> JobAction:
    services = get_services(request)
    action, expires, reading = lease.heartbeat(
        services.db, services.settings, renewals_of(request), job_id, body
    )
    services.hub.publish_live(reading)
    return JobAction(action=action, lease_expires_at=expires)


@router.post(
    "/jobs/{job_id}/watch",
    response_model=JobWatchAction,
    operation_id="watch_job",
    dependencies=[AgentOnly, OwnLease],
    responses=problems(409, reasons={409: LEASE_LOST}),
)
async def watch_job(job_id: uuid.UUID, body: JobWatchBody, request: Request) -> JobWatchAction:
    """Long-poll while running a job: `cancel` the moment a wrangler cancels it, `continue` after `wait_s`,
    409 lease-lost as soon as the job is no longer this lease's."""
    services = get_services(request)
    watch: JobWatch = request.app.state.farm_watch
    loop = asyncio.get_running_loop()
    deadline = loop.time() + min(body.wait_s, services.settings.farm_claim_wait_max_s)

    def look() -> bool:
        with services.db.read_sessions() as session:
            return lease.leased(session, job_id, body.lease_id).cancel_requested

    with watch.watching(job_id) as changed:
        while True:
            changed.clear()
            if await run_in_threadpool(look):
                return JobWatchAction(action="cancel")
            remaining = deadline - loop.time()
            if remaining <= 0 or await request.is_disconnected():
                return JobWatchAction(action="continue")
            await wait_event(changed, remaining)


@router.post(
    "/jobs/{job_id}/outputs",
    operation_id="upload_job_outputs",
    dependencies=[AgentOnly],
    openapi_extra=OUTPUTS_BODY,
    responses=problems(409, reasons={409: LEASE_LOST_OR_CLASH}),
)
async def upload_job_outputs(job_id: uuid.UUID, request: Request, principal: PrincipalDep) -> dict[str, Any]:
    """Multipart `lease_id` + `files`, streamed into the job's outputs as it arrives (outputs_upload.py);
    the same name with the same bytes is a no-op. The lease (and that it is this API key's agent's: else
    403, as `OwnLease`) is checked when the `lease_id` field ends, before the files behind it arrive."""
    services = get_services(request)
    settings = services.settings

    def check_lease(name: str, value: str) -> None:
        if name != "lease_id":
            return
        with services.db.read_sessions() as session:
            job = lease.leased(session, job_id, value)
            if principal.role != "admin" and job.agent_id is not None:
                key = session.execute(select(Agent.api_key_id).where(Agent.id == job.agent_id)).scalar()
                if key not in (None, principal.id):
                    raise Forbidden("This job is leased to an agent of another API key.", field="lease_id")

    receiver = OutputsReceiver(
        outputs_upload.boundary_of(request.headers.get("content-type")),
        lease.outputs_dir(settings, job_id),
        check_lease,
    )
    try:
        await outputs_upload.receive(request.stream(), receiver)
        files = await run_in_threadpool(receiver.finish)
        lease_id = receiver.fields.get("lease_id")
        if not lease_id:
            raise Unprocessable("lease_id is required", field="lease_id")
        if not files:
            raise Unprocessable("no files", field="files")
        outputs_upload.check_declared(receiver.declared, files)  # the agent's own sha256: 422 if it differs

        def store() -> list[dict[str, Any]]:
            with services.db.write_sessions() as session:
                job = lease.leased(session, job_id, lease_id)
                root = settings.resolved_storage_root
                entries = [outputs_upload.place(f, job.outputs, root) for f in files]
                fsync_dir(receiver.folder)
                return lease.add_outputs(session, job, entries)

        return {"outputs": await run_in_threadpool(store)}
    except BaseException:
        await run_in_threadpool(receiver.discard)
        raise


@router.get(
    "/jobs/{job_id}/outputs/{name}",
    operation_id="download_job_output",
    dependencies=[Depends(require_any(P.FARM_AGENT, P.PROJECT_READ, P.FARM_MANAGE))],
)
def download_job_output(
    job_id: uuid.UUID, name: str, session: ReadSession, services: ServicesDep
) -> FileResponse:
    job = jobs.get_job(session, job_id)
    entry = next((o for o in job.outputs if o["name"] == name), None)
    if entry is None:
        raise NotFound(f"job {job_id} has no output named {name}", field="name")
    path = lease.outputs_dir(services.settings, job.id) / entry["name"]
    return LargeFileResponse(path, filename=entry["name"], headers={"ETag": f'"{entry["sha256"]}"'})


@router.post(
    "/jobs/{job_id}/complete",
    response_model=JobOut,
    operation_id="complete_job",
    dependencies=[OwnLease],
    responses=problems(409, reasons={409: LEASE_LOST}),
)
async def complete_job(job_id: uuid.UUID, body: JobComplete, request: Request, uow: AgentUow) -> Any:
    """Finish the job; a shot job's uploaded outputs become the shot's next version."""
    services = get_services(request)
    staging = await staging_of(request.app)
    publisher = partial(publish_outputs, services, staging, uow)

    def complete() -> Any:
        done = lease.complete(uow, job_id, body, publisher)
        lease.drop_stray_outputs(
            lease.outputs_dir(services.settings, job_id), {str(o["name"]) for o in done.outputs}
        )
        return done

    return await run_in_threadpool(complete)


@router.post(
    "/jobs/{job_id}/fail",
    response_model=JobOut,
    operation_id="fail_job",
    dependencies=[OwnLease],
    responses=problems(409, reasons={409: LEASE_LOST}),
)
def fail_job(job_id: uuid.UUID, body: JobFail, uow: AgentUow, services: ServicesDep) -> Any:
    return lease.fail(uow, services.settings, job_id, body)


@router.post(
    "/jobs/{job_id}/release",
    response_model=JobOut,
    operation_id="release_job",
    dependencies=[OwnLease],
    responses=problems(409, reasons={409: LEASE_LOST}),
)
def release_job(job_id: uuid.UUID, body: LeaseBody, uow: AgentUow) -> Any:
    return lease.release(uow, job_id, body.lease_id)


# -- submitting and wrangling -------------------------------------------------------------------------


@router.post("/jobs", response_model=JobOut, status_code=status.HTTP_201_CREATED, operation_id="submit_job")
def submit_job(body: JobSubmit, uow: Submitter, services: ServicesDep) -> JobOut:
    return jobs.submit(uow, services.settings, body)


@router.get("/jobs", response_model=Page[JobOut], dependencies=[FarmReader], operation_id="list_jobs")
def list_jobs(
    session: ReadSession,
    params: ListParamsDep,
    status_: Annotated[list[str] | None, Query(alias="status")] = None,
    type_: Annotated[list[str] | None, Query(alias="type")] = None,
    project_id: uuid.UUID | None = None,
    shot_id: uuid.UUID | None = None,
    agent_id: uuid.UUID | None = None,
    id_prefix: Annotated[
        str | None,
        Query(pattern=r"^[0-9a-fA-F-]{4,36}$", description="Jobs whose id starts with these hex digits."),
    ] = None,
) -> dict[str, Any]:
    filters = {
        "id_prefix": id_prefix.replace("-", "").lower() if id_prefix else None,
        "status": status_,
        "type": type_,
        "project_id": project_id,
        "shot_id": shot_id,
        "agent_id": agent_id,
    }
    return jobs.list_jobs(session, params, filters)


@router.get("/jobs/{job_id}", response_model=JobOut, dependencies=[FarmReader], operation_id="get_job")
def get_job(job_id: uuid.UUID, session: ReadSession) -> JobOut:
    return jobs.job_out(session, jobs.get_job(session, job_id))


@router.get(
    "/jobs/{job_id}/preview",
    dependencies=[FarmReader],
    operation_id="get_job_preview",
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}}}},
)
def get_job_preview(job_id: uuid.UUID, session: ReadSession, services: ServicesDep) -> FileResponse:
    """The newest preview image its agent sent (while sampling); 404 until there is one."""
    job = jobs.get_job(session, job_id)
    path = (
        previews.preview_path(services.settings, lease.FARM_DIR, job.id, job.preview_mime)
        if job.preview_mime in previews.EXTENSIONS
        else None
    )
    if path is None or not path.is_file():
        raise NotFound(f"Job {job_id} has no preview image yet.", field="job_id")
    return FileResponse(path, media_type=job.preview_mime, headers={"Cache-Control": "no-cache"})


@router.post(
    "/jobs/{job_id}/cancel", response_model=JobOut, operation_id="cancel_job", responses=problems(403)
)
def cancel_job(
    job_id: uuid.UUID, uow: Annotated[UnitOfWork, Depends(uow_for())], principal: PrincipalDep
) -> JobOut:
    job = jobs.get_job(uow.session, job_id)
    # The wrangler, or whoever submitted it.
    if not principal.can(P.FARM_MANAGE) and not (
        principal.can(P.RENDER_SUBMIT) and job.created_by == principal.name
    ):
        raise_forbidden(principal)
    return jobs.cancel(uow, job_id)


def raise_forbidden(principal: Principal) -> None:
    raise Forbidden(
        f"Role '{principal.role}' may cancel only its own jobs (wranglers: any).",
        required=[P.FARM_MANAGE.value],
        role=principal.role,
    )


@router.post("/jobs/{job_id}/retry", response_model=JobOut, operation_id="retry_job")
def retry_job(job_id: uuid.UUID, uow: Wrangler) -> JobOut:
    return jobs.retry(uow, job_id)


@router.post("/jobs/{job_id}/priority", response_model=JobOut, operation_id="set_job_priority")
def set_job_priority(job_id: uuid.UUID, body: PriorityBody, uow: Wrangler) -> JobOut:
    return jobs.set_priority(uow, job_id, body.priority, None)


@router.get("/agents", response_model=list[AgentOut], dependencies=[FarmReader], operation_id="list_agents")
def list_agents(session: ReadSession, services: ServicesDep) -> list[AgentOut]:
    listed = list(session.scalars(select(Agent).order_by(Agent.name)))
    return agents.agents_out(session, listed, services.settings)


@router.post("/agents/{agent_id}/drain", response_model=AgentOut, operation_id="drain_agent")
def drain_agent(agent_id: uuid.UUID, uow: Wrangler) -> AgentOut:
    return agents.set_draining(uow, agent_id, True)


@router.post("/agents/{agent_id}/undrain", response_model=AgentOut, operation_id="undrain_agent")
def undrain_agent(agent_id: uuid.UUID, uow: Wrangler) -> AgentOut:
    return agents.set_draining(uow, agent_id, False)


@router.get(
    "/blocklist", response_model=list[BlockOut], dependencies=[FarmReader], operation_id="list_blocklist"
)
def list_blocklist(session: ReadSession, agent_id: uuid.UUID | None = None) -> list[BlockOut]:
    return agents.blocklist(session, agent_id)


@router.delete("/blocklist/{agent_id}", operation_id="clear_blocklist")
def clear_blocklist(agent_id: uuid.UUID, uow: Wrangler, job_type: str | None = None) -> dict[str, int]:
    return {"cleared": agents.clear_block(uow, agent_id, job_type)}


@router.get("/throughput", dependencies=[FarmReader], operation_id="farm_throughput")
def farm_throughput(session: ReadSession) -> dict[str, Any]:
    """Jobs that succeeded and failed per bucket: the last hour (5-minute buckets), the last day (hourly)."""
    return throughput.throughput(session)


@router.get("/status", response_model=FarmStatus, dependencies=[FarmReader], operation_id="farm_status")
def farm_status(session: ReadSession, services: ServicesDep) -> FarmStatus:
    all_agents = list(session.scalars(select(Agent)))
    states: dict[str, int] = {}
    for agent in all_agents:
        state = "offline" if agents.is_offline(agent, services.settings) else agent.state
        states[state] = states.get(state, 0) + 1
    by_status = dict(session.execute(select(Job.status, func.count()).group_by(Job.status)).all())
    hour_ago = utcnow() - timedelta(hours=1)
    finished = dict(
        session.execute(
            select(Job.status, func.count()).where(Job.finished_at >= hour_ago).group_by(Job.status)
        ).all()
    )
    ok, bad = finished.get("succeeded", 0), finished.get("failed", 0)
    return FarmStatus(
        agents=states,
        gpus=sum(len(a.gpus) for a in all_agents if not agents.is_offline(a, services.settings)),
        queue_depth=by_status.get("queued", 0),
        running=by_status.get("running", 0),
        succeeded_last_hour=ok,
        failed_last_hour=bad,
        error_rate_last_hour=round(bad / (ok + bad), 3) if ok + bad else 0.0,
        jobs_by_status=by_status,
    )
