"""Claiming: the scheduler picks an idle agent's next job, which is then leased to it. Never twice."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from .. import resources
from ..context import UnitOfWork
from ..db.base import utcnow
from ..db.models import Agent, AgentBlock, Job, JobDependency
from ..settings import Settings
from .agents import is_offline
from .jobs import job_out
from .lease import expire_leases
from .scheduler import AgentView, FarmView, JobView, choose
from .schemas import Claim, ClaimedJob, LeaseOut

CANDIDATES = 300  # runnable jobs shown to the scheduler per claim (highest priority first, plus same-model)


class ClaimWaker:
    """Wakes long-polling claims when jobs may have become runnable (in this or another server process)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def current(self) -> asyncio.Event:
        return self._event

    def notify(self) -> None:
        event, self._event = self._event, asyncio.Event()
        event.set()

    def on_event(self, message: dict[str, Any]) -> None:
        if message.get("entity") == "job":
            self.notify()


def _vram_gb(agent: Agent) -> float:
    # Decimal GB, as cards are sold: NVML reports a "24 GB" RTX 4090 as 24564 MiB (23.99 GiB).
    return max((g.get("vram_total_mb", 0) for g in agent.gpus), default=0) / 1000


def _runnable(session: Session, agent: Agent, models: list[str]) -> list[Job]:
    parent = aliased(Job)
    waiting_on_parent = exists(
        select(JobDependency.job_id)
        .join(parent, parent.id == JobDependency.parent_id)
        .where(JobDependency.job_id == Job.id, parent.status != "succeeded")
    )
    now = utcnow()
    base = select(Job).where(
        Job.status == "queued",
        or_(Job.not_before.is_(None), Job.not_before <= now),
        Job.min_vram_gb <= _vram_gb(agent),
        ~waiting_on_parent,
    )
    found = {
        j.id: j for j in session.scalars(base.order_by(Job.priority.desc(), Job.created_at).limit(CANDIDATES))
    }
    if models:
        same_model = base.where(Job.model.in_(models)).order_by(Job.priority.desc(), Job.created_at)
        for job in session.scalars(same_model.limit(CANDIDATES // 3)):
            found.setdefault(job.id, job)
    return list(found.values())


@dataclass(frozen=True)
class _Downstream:
    work_s: dict[uuid.UUID, float]
    priority: dict[uuid.UUID, int]


def _farm_view(session: Session, settings: Settings, jobs: list[Job]) -> tuple[FarmView, _Downstream]:
    """The aggregates the scheduler plans with: who holds which model, queued work per model (blocked
    jobs included), when a holder frees up, and the work and priority waiting on each candidate."""
    now = utcnow()
    agents = [a for a in session.scalars(select(Agent)) if not is_offline(a, settings)]
    holders = Counter(model for a in agents for model in a.loaded_models)
    running_jobs = session.execute(
        select(Job.project_id, Job.model, Job.agent_id, Job.started_at, Job.estimate_s).where(
            Job.status == "running"
        )
    ).all()
    running = Counter(str(row.project_id) for row in running_jobs)
    busy_until = {row.agent_id: (row.started_at or now).timestamp() + row.estimate_s for row in running_jobs}
    next_free: dict[str, float] = {}
    for agent in agents:
        free_in = max(0.0, busy_until.get(agent.id, now.timestamp()) - now.timestamp())
        for model in agent.loaded_models:
            next_free[model] = min(next_free.get(model, free_in), free_in)
    queued = session.execute(
        select(Job.model, func.sum(Job.estimate_s), func.max(Job.min_vram_gb))
        .where(Job.status == "queued", Job.model.is_not(None))
        .group_by(Job.model)
    ).all()
    work: dict[uuid.UUID, float] = {}
    priority: dict[uuid.UUID, int] = {}
    if jobs:
        child = aliased(Job)
        rows = session.execute(
            select(JobDependency.parent_id, func.sum(child.estimate_s), func.max(child.priority))
            .join(child, child.id == JobDependency.job_id)
            .where(JobDependency.parent_id.in_([j.id for j in jobs]), child.status == "queued")
            .group_by(JobDependency.parent_id)
        )
        for parent_id, total, top in rows:
            work[parent_id] = float(total or 0)
            priority[parent_id] = int(top) if top is not None else 0
    view = FarmView(
        now=now.timestamp(),
        holders=dict(holders),
        agent_vram=[_vram_gb(a) for a in agents],
        running_by_project=dict(running),
        demand_s={model: float(total or 0) for model, total, _ in queued},
        model_vram_gb={model: float(vram or 0) for model, _, vram in queued},
        next_free_s=next_free,
    )
    return view, _Downstream(work, priority)


def claim(uow: UnitOfWork, settings: Settings, agent: Agent, loaded_models: list[str] | None) -> Claim | None:
    """Lease the scheduler's choice for `agent`, or None when nothing it can run is waiting."""
    session = uow.session
    expire_leases(uow, settings)
    agent.last_seen_at = utcnow()
    if loaded_models is not None:
        agent.loaded_models = list(loaded_models)
    if agent.draining:
        uow.commit()
        return None
    jobs = _runnable(session, agent, list(agent.loaded_models))
    blocked = frozenset(
        session.scalars(
            select(AgentBlock.job_type).where(
                and_(AgentBlock.agent_id == agent.id, AgentBlock.blocked.is_(True))
            )
        )
    )
    farm, downstream = _farm_view(session, settings, jobs)
    me = AgentView(
        id=str(agent.id),
        vram_gb=_vram_gb(agent),
        loaded_model=agent.loaded_models[0] if agent.loaded_models else None,
        tags=frozenset(agent.tags),
        job_types=frozenset(agent.job_types) or None,
        blocked_types=blocked,
    )
    views = [
        JobView(
            id=str(j.id),
            type=j.type,
            priority=j.priority,
            min_vram_gb=j.min_vram_gb,
            model=j.model,
            submitted_at=j.created_at.timestamp(),
            tags=frozenset(j.tags),
            failed_agents=frozenset(j.failed_agents),
            project=str(j.project_id),
            estimate_s=j.estimate_s,
            downstream_s=downstream.work_s.get(j.id, 0.0),
            downstream_priority=downstream.priority.get(j.id),
            ready_at=(j.not_before or j.created_at).timestamp(),
        )
        for j in jobs
    ]
    job = _choose_and_lock(session, me, views, farm, {str(j.id): j for j in jobs})
    if job is None:
        uow.commit()
        return None
    lease_id = uuid.uuid4().hex
    expires = utcnow() + timedelta(seconds=settings.farm_lease_s)
    values: dict[str, Any] = {
        "status": "running",
        "agent_id": agent.id,
        "lease_id": lease_id,
        "lease_expires_at": expires,
        "progress": 0.0,
        "stage_text": "",
        "started_at": utcnow(),  # this attempt's start: the timeout counts from here
        "not_before": None,
    }
    resources.update(
        uow,
        resources.Resource(Job, "job", lambda j: job_out(session, j)),
        job,
        values,
        job.revision,
        commit=False,
    )
    agent.state = "busy"
    if job.model and job.model not in agent.loaded_models:
        agent.loaded_models = [job.model]  # one model resident: the new one replaces the old
    # The answer is built inside the lease's transaction: nothing after the commit can fail and leave the
    # job leased to an agent that never heard of it.
    answer = Claim(job=_claimed(session, job), lease=LeaseOut(id=lease_id, expires_at=expires))
    uow.commit()
    return answer


def _choose_and_lock(
    session: Session, me: AgentView, views: list[JobView], farm: FarmView, by_id: dict[str, Job]
) -> Job | None:
    """The scheduler's choice, locked for this transaction. PostgreSQL: a job another claimer holds
    (FOR UPDATE SKIP LOCKED) or took meanwhile is passed over and the next choice tried. SQLite: writers
    are serialised (BEGIN IMMEDIATE), so the first choice is free."""
    views = list(views)
    while True:
        picked = choose(me, views, farm)
        if picked is None:
            return None
        job = session.scalar(
            select(Job)
            .where(Job.id == by_id[picked.id].id, Job.status == "queued")
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
        if job is not None:
            return job
        views = [v for v in views if v.id != picked.id]


def _claimed(session: Session, job: Job) -> ClaimedJob:
    parents = session.scalars(
        select(Job)
        .join(JobDependency, JobDependency.parent_id == Job.id)
        .where(JobDependency.job_id == job.id)
    ).all()
    return ClaimedJob(
        id=job.id,
        type=job.type,
        workflow=job.workflow,
        params=job.params,
        graph=job.graph,
        inputs=job.inputs,
        parents=[
            {
                "id": str(p.id),
                "version_id": str(p.version_id) if p.version_id else None,
                "outputs": [{**o, "url": f"/api/farm/jobs/{p.id}/outputs/{o['name']}"} for o in p.outputs],
            }
            for p in parents
        ],
        priority=job.priority,
        timeout_s=job.timeout_s,
        attempt=job.attempts + 1,
    )
