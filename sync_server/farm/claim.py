"""Claiming: the scheduler picks idle agents' next jobs, which are then leased to them. Never twice.

Claims are served in passes (`claim_pass`): every agent waiting in this server process at that moment is
served in one write transaction, each getting the scheduler's choice for it with the farm view updated
after every lease. `dispatch.ClaimDispatcher` runs the passes; see docs/agent-protocol.md.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.attributes import set_committed_value

from ..context import Principal, UnitOfWork
from ..crud import apply_changes
from ..db.base import utcnow
from ..db.models import Agent, AgentBlock, Job, JobDependency
from ..errors import ApiError, NotFound
from ..settings import Settings
from .agents import check_owner, is_offline
from .jobs import job_out
from .scheduler import AgentView, FarmView, JobView, choose
from .schemas import Claim, ClaimedJob, LeaseOut

if TYPE_CHECKING:
    from ..events import EventHub

SEEN_RESOLUTION_S = 5.0  # an agent's last_seen_at is refreshed by a claim at most this often
CANDIDATES = 300  # runnable jobs shown to the scheduler per pass (highest priority first, plus same-model)


@dataclass(frozen=True)
class ClaimRequest:
    """One agent asking for work, as served by a claim pass."""

    agent_id: uuid.UUID
    actor: Principal
    loaded_models: list[str] | None = None
    request_id: str | None = None


def _vram_gb(agent: Agent) -> float:
    # Decimal GB, as cards are sold: NVML reports a "24 GB" RTX 4090 as 24564 MiB (23.99 GiB).
    return max((g.get("vram_total_mb", 0) for g in agent.gpus), default=0) / 1000


_VIEW_COLUMNS = (
    Job.id,
    Job.type,
    Job.priority,
    Job.min_vram_gb,
    Job.model,
    Job.created_at,
    Job.tags,
    Job.failed_agents,
    Job.project_id,
    Job.estimate_s,
    Job.not_before,
)


def candidate_rows(session: Session, vram_gb: float, models: Iterable[str]) -> list[Row[Any]]:
    """Runnable queued jobs (parents done, back-off over, VRAM within `vram_gb`): the columns the scheduler
    reads, never the graph or params. The highest priority first, plus the same-model ones."""
    parent = aliased(Job)
    waiting_on_parent = exists(
        select(JobDependency.job_id)
        .join(parent, parent.id == JobDependency.parent_id)
        .where(JobDependency.job_id == Job.id, parent.status != "succeeded")
    )
    now = utcnow()
    base = select(*_VIEW_COLUMNS).where(
        Job.status == "queued",
        or_(Job.not_before.is_(None), Job.not_before <= now),
        Job.min_vram_gb <= vram_gb,
        ~waiting_on_parent,
    )
    order = (Job.priority.desc(), Job.created_at)
    found = {row.id: row for row in session.execute(base.order_by(*order).limit(CANDIDATES))}
    wanted = sorted(set(models))
    if wanted:
        same_model = base.where(Job.model.in_(wanted)).order_by(*order).limit(CANDIDATES // 3)
        for row in session.execute(same_model):
            found.setdefault(row.id, row)
    return list(found.values())


@dataclass
class Candidates:
    """The queue as the last pass read it: the runnable jobs as the scheduler sees them (highest
    priority first), queued work per model and the running jobs. The next pass reuses it while nothing but
    this process's own leases changed the queue (the dispatcher drops it on any other job event, and every
    few seconds); each lease updates it. Safe when stale: a job is leased only if its row, locked, is still
    queued (`_lock`)."""

    views: dict[uuid.UUID, JobView]  # the runnable jobs as the scheduler sees them
    complete: bool  # the query found fewer than its limit: no runnable job is missing from `views`
    vram_gb: float
    models: frozenset[str]
    demand_s: dict[str, float]  # model -> estimated work of its queued jobs (blocked ones included)
    model_vram_gb: dict[str, float]  # model -> the largest min_vram_gb among its queued jobs
    busy_until: dict[uuid.UUID, float]  # agent -> when its running job should end (epoch seconds)
    running_by_project: Counter[str]

    def serves(self, vram_gb: float, models: frozenset[str]) -> bool:
        enough = self.complete or len(self.views) >= CANDIDATES // 2
        return enough and vram_gb <= self.vram_gb and models <= self.models


def read_candidates(session: Session, vram_gb: float, models: frozenset[str]) -> Candidates:
    rows = candidate_rows(session, vram_gb, models)
    now = utcnow()
    running_jobs = session.execute(
        select(Job.project_id, Job.agent_id, Job.started_at, Job.estimate_s).where(Job.status == "running")
    ).all()
    queued = session.execute(
        select(Job.model, func.sum(Job.estimate_s), func.max(Job.min_vram_gb))
        .where(Job.status == "queued", Job.model.is_not(None))
        .group_by(Job.model)
    ).all()
    work: dict[uuid.UUID, float] = {}
    priority: dict[uuid.UUID, int] = {}
    if rows:
        child = aliased(Job)
        waiting = session.execute(
            select(JobDependency.parent_id, func.sum(child.estimate_s), func.max(child.priority))
            .join(child, child.id == JobDependency.job_id)
            .where(JobDependency.parent_id.in_([row.id for row in rows]), child.status == "queued")
            .group_by(JobDependency.parent_id)
        )
        for parent_id, total, top in waiting:
            work[parent_id] = float(total or 0)
            priority[parent_id] = int(top) if top is not None else 0
    views = {
        row.id: JobView(
            id=str(row.id),
            type=row.type,
            priority=row.priority,
            min_vram_gb=row.min_vram_gb,
            model=row.model,
            submitted_at=row.created_at.timestamp(),
            tags=frozenset(row.tags),
            failed_agents=frozenset(row.failed_agents),
            project=str(row.project_id),
            estimate_s=row.estimate_s,
            downstream_s=work.get(row.id, 0.0),
            downstream_priority=priority.get(row.id),
            ready_at=(row.not_before or row.created_at).timestamp(),
        )
        for row in rows
    }
    return Candidates(
        views=views,
        complete=len(rows) < CANDIDATES,
        vram_gb=vram_gb,
        models=models,
        demand_s={model: float(total or 0) for model, total, _ in queued},
        model_vram_gb={model: float(vram or 0) for model, _, vram in queued},
        busy_until={
            row.agent_id: (row.started_at or now).timestamp() + row.estimate_s
            for row in running_jobs
            if row.agent_id is not None
        },
        running_by_project=Counter(str(row.project_id) for row in running_jobs),
    )


@dataclass
class _FarmState:
    """What the scheduler plans with, kept up to date while one pass leases several jobs: which agent holds
    which model and when each frees up (from the queue snapshot), and the agents that are up."""

    now: float
    loaded: dict[uuid.UUID, list[str]]
    vram: dict[uuid.UUID, float]
    queue: Candidates

    def view(self) -> FarmView:
        holders = Counter(model for models in self.loaded.values() for model in models)
        next_free: dict[str, float] = {}
        for agent_id, models in self.loaded.items():
            free_in = max(0.0, self.queue.busy_until.get(agent_id, self.now) - self.now)
            for model in models:
                next_free[model] = min(next_free.get(model, free_in), free_in)
        return FarmView(
            now=self.now,
            holders=dict(holders),
            agent_vram=list(self.vram.values()),
            running_by_project=dict(self.queue.running_by_project),
            demand_s=dict(self.queue.demand_s),
            model_vram_gb=dict(self.queue.model_vram_gb),
            next_free_s=next_free,
        )

    def assign(self, agent_id: uuid.UUID, job: JobView) -> None:
        """`job` was leased to `agent_id`: the snapshot follows, for this pass and the next."""
        queue = self.queue
        if job.model:
            self.loaded[agent_id] = [job.model]
            queue.demand_s[job.model] = max(0.0, queue.demand_s.get(job.model, 0.0) - job.estimate_s)
        queue.busy_until[agent_id] = self.now + job.estimate_s
        queue.running_by_project[job.project or ""] += 1


def _farm_state(agents: Iterable[Agent], settings: Settings, queue: Candidates) -> _FarmState:
    agents = [a for a in agents if not is_offline(a, settings)]
    return _FarmState(
        now=utcnow().timestamp(),
        loaded={a.id: list(a.loaded_models) for a in agents},
        vram={a.id: _vram_gb(a) for a in agents},
        queue=queue,
    )


def _check_agent(agent: Agent | None, request: ClaimRequest) -> ApiError | None:
    """What the claim route would refuse with, as a value: the pass answers the other claims."""
    if agent is None:
        return NotFound(f"No agent with id {request.agent_id}.", field="agent_id")
    try:
        check_owner(agent, request.actor)
    except ApiError as refused:
        return refused
    return None


def claim_pass(
    session: Session,
    hub: EventHub | None,
    settings: Settings,
    requests: Sequence[ClaimRequest],
    cached: Candidates | None = None,
) -> tuple[list[Claim | None | Exception], Candidates | None]:
    """Serve several waiting agents in one write transaction: each gets the scheduler's choice for it (or
    None). A request that is not allowed (unknown agent, another agent's key) gets its exception instead;
    the others go on. Commits, then announces the events."""
    results: list[Claim | None | Exception] = [None] * len(requests)
    agents = {a.id: a for a in session.scalars(select(Agent))}  # the waiters, and the farm they plan with
    active: list[tuple[int, ClaimRequest, Agent]] = []
    now = utcnow()
    seen: list[uuid.UUID] = []
    for i, request in enumerate(requests):
        agent = agents.get(request.agent_id)
        refused = _check_agent(agent, request)
        if refused is not None or agent is None:
            results[i] = refused
            continue
        if agent.last_seen_at is None or (now - agent.last_seen_at).total_seconds() >= SEEN_RESOLUTION_S:
            seen.append(agent.id)
            set_committed_value(agent, "last_seen_at", now)
        if request.loaded_models is not None and list(request.loaded_models) != agent.loaded_models:
            agent.loaded_models = list(request.loaded_models)
        if not agent.draining:
            active.append((i, request, agent))
    if seen:
        # One statement for every waiter (not an edit of the agent: no new revision, no event).
        session.execute(update(Agent).where(Agent.id.in_(seen)).values(last_seen_at=now))
    candidates = cached
    if active:
        vram = max(_vram_gb(a) for _, _, a in active)
        models = frozenset(m for _, _, a in active for m in a.loaded_models)
        if cached is None or not cached.serves(vram, models):
            candidates = read_candidates(session, vram, models)
    views = list(candidates.views.values()) if candidates is not None and active else []
    if candidates is None or not views:
        session.commit()
        return results, candidates
    blocked: dict[uuid.UUID, set[str]] = {}
    for agent_id, job_type in session.execute(
        select(AgentBlock.agent_id, AgentBlock.job_type).where(
            AgentBlock.agent_id.in_([a.id for _, _, a in active]), AgentBlock.blocked.is_(True)
        )
    ):
        blocked.setdefault(agent_id, set()).add(job_type)
    farm = _farm_state(agents.values(), settings, candidates)
    # Agents that already hold a waiting job's model choose first (no load to pay), then in arrival order.
    wanted = {v.model for v in views if v.model}
    active.sort(key=lambda item: (not set(item[2].loaded_models) & wanted, item[0]))
    leases: list[tuple[int, ClaimRequest, Agent, Job]] = []
    while active and views:
        chosen: list[tuple[int, ClaimRequest, Agent, JobView]] = []
        for i, request, agent in active:
            picked = choose(_agent_view(agent, blocked), views, farm.view()) if views else None
            if picked is not None:
                chosen.append((i, request, agent, picked))
                farm.assign(agent.id, picked)
                views = [v for v in views if v.id != picked.id]
        if not chosen:
            break
        locked = _lock([uuid.UUID(p.id) for _, _, _, p in chosen], session)
        for _, _, _, p in chosen:  # leased now, or no longer queued: not a candidate any more
            candidates.views.pop(uuid.UUID(p.id), None)
        leases.extend(
            (i, r, a, locked[uuid.UUID(p.id)]) for i, r, a, p in chosen if uuid.UUID(p.id) in locked
        )
        # PostgreSQL: a job another server process took meanwhile; its agent chooses again.
        active = [(i, r, a) for i, r, a, p in chosen if uuid.UUID(p.id) not in locked]
    event_ids: list[int] = []
    for i, claim in _lease(session, settings, leases, event_ids).items():
        results[i] = claim
    session.commit()
    if hub is not None and event_ids:
        hub.announce(event_ids)
    return results, candidates


def _agent_view(agent: Agent, blocked: dict[uuid.UUID, set[str]]) -> AgentView:
    return AgentView(
        id=str(agent.id),
        vram_gb=_vram_gb(agent),
        loaded_model=agent.loaded_models[0] if agent.loaded_models else None,
        tags=frozenset(agent.tags),
        job_types=frozenset(agent.job_types) or None,
        blocked_types=frozenset(blocked.get(agent.id, ())),
    )


def _lock(job_ids: list[uuid.UUID], session: Session) -> dict[uuid.UUID, Job]:
    """The chosen jobs still queued, locked for this transaction. PostgreSQL passes over rows another
    server process holds (FOR UPDATE SKIP LOCKED); SQLite serialises writers (BEGIN IMMEDIATE)."""
    stmt = (
        select(Job)
        .where(Job.id.in_(job_ids), Job.status == "queued")
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    return {job.id: job for job in session.scalars(stmt)}


def _lease(
    session: Session,
    settings: Settings,
    leases: list[tuple[int, ClaimRequest, Agent, Job]],
    event_ids: list[int],
) -> dict[int, Claim]:
    """Lease each job to its agent: one flush for all, then an audit event each. The answers are built
    inside the transaction: nothing after the commit can fail and leave a job leased to an agent that
    never heard of it."""
    if not leases:
        return {}
    now = utcnow()
    expires = now + timedelta(seconds=settings.farm_lease_s)
    lease_ids: dict[uuid.UUID, str] = {}
    changes: dict[uuid.UUID, dict[str, list[Any]]] = {}
    before: dict[uuid.UUID, int] = {}
    for _, _, agent, job in leases:
        lease_ids[job.id] = uuid.uuid4().hex
        before[job.id] = job.revision
        values = {
            "status": "running",
            "agent_id": agent.id,
            "lease_id": lease_ids[job.id],
            "lease_expires_at": expires,
            "progress": 0.0,
            "stage_text": "",
            "started_at": now,  # this attempt's start: the timeout counts from here
            "not_before": None,
        }
        changes[job.id] = apply_changes(job, values)
        agent.state = "busy"
        if job.model and job.model not in agent.loaded_models:
            agent.loaded_models = [job.model]  # one model resident: the new one replaces the old
    session.flush()
    parents = _parents(session, [job.id for _, _, _, job in leases])
    answers: dict[int, Claim] = {}
    for i, request, _, job in leases:
        mine = parents.get(job.id, [])
        out = job_out(session, job, [p.id for p in mine])
        uow = UnitOfWork(session=session, hub=None, actor=request.actor, request_id=request.request_id)
        uow.record(
            "job.updated",
            "job",
            job.id,
            project_id=job.project_id,
            revision_before=before[job.id],
            revision_after=job.revision,
            changes=changes[job.id],
            data=out.model_dump(mode="json"),
        )
        event_ids.extend(uow.event_ids)
        answers[i] = Claim(job=_claimed(job, mine), lease=LeaseOut(id=lease_ids[job.id], expires_at=expires))
    return answers


def _parents(session: Session, job_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[Job]]:
    found: dict[uuid.UUID, list[Job]] = {}
    rows = session.execute(
        select(JobDependency.job_id, Job)
        .join(Job, Job.id == JobDependency.parent_id)
        .where(JobDependency.job_id.in_(job_ids))
    )
    for job_id, parent in rows:
        found.setdefault(job_id, []).append(parent)
    return found


def _claimed(job: Job, parents: list[Job]) -> ClaimedJob:
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
