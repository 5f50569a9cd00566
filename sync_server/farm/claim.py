"""Claiming: the scheduler picks idle agents' next jobs, which are then leased to them. Never twice.

Claims are served in passes (`claim_pass`): every agent waiting in this server process at that moment is
served in one write transaction, each getting the scheduler's choice for it with the farm view updated
after every lease. `dispatch.ClaimDispatcher` runs the passes; see docs/agent-protocol.md.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, bindparam, func, select, update
from sqlalchemy.orm import Session

from ..context import SYSTEM, Principal, UnitOfWork
from ..crud import changed
from ..db.base import utcnow
from ..db.models import Agent, AgentBlock, AuditEvent, Job, JobDependency, Project
from ..errors import ApiError, NotFound
from ..recipes.resolve import needs_parent, resolve
from ..settings import Settings
from .agents import check_owner, is_offline
from .candidates import Candidates, read_candidates
from .jobs import job_out_of
from .scheduler import AgentView, FarmView, JobView, choose
from .schemas import Claim, ClaimedJob, LeaseOut

SEEN_RESOLUTION_S = 5.0  # an agent's last_seen_at is refreshed by a claim at most this often


@dataclass(frozen=True)
class ClaimRequest:
    """One agent asking for work, as served by a claim pass."""

    agent_id: uuid.UUID
    actor: Principal
    loaded_models: list[str] | None = None
    request_id: str | None = None


AGENTS = Agent.__table__


@dataclass
class PassAgent:
    """An agent as a claim pass reads it (plain columns, not an ORM object) and the state it leaves: the
    changed ones are written back with one statement (`_write_agents`)."""

    id: uuid.UUID
    name: str
    api_key_id: uuid.UUID | None
    last_seen_at: datetime | None
    gpus: list[dict[str, Any]]
    tags: list[str]
    job_types: list[str]
    loaded_models: list[str]
    state: str
    draining: bool
    changed: bool = False

    def set(self, state: str, loaded_models: list[str]) -> None:
        if (state, loaded_models) != (self.state, self.loaded_models):
            self.state, self.loaded_models, self.changed = state, loaded_models, True


_READ_AGENTS = select(*(AGENTS.c[f.name] for f in fields(PassAgent) if f.name != "changed"))


def _read_agents(session: Session) -> dict[uuid.UUID, PassAgent]:
    return {row.id: PassAgent(*row) for row in session.execute(_READ_AGENTS)}


_WRITE_AGENT = (
    update(AGENTS)
    .where(AGENTS.c.id == bindparam("b_id"))
    .values(
        state=bindparam("b_state"),
        loaded_models=bindparam("b_loaded_models", type_=AGENTS.c.loaded_models.type),
        revision=AGENTS.c.revision + 1,
    )
)


def _write_agents(session: Session, agents: Iterable[PassAgent]) -> None:
    """The agents a pass changed (busy now, another model loaded), in one statement. A new revision as any
    edit, but no event: their jobs' events say it."""
    params = [
        {"b_id": a.id, "b_state": a.state, "b_loaded_models": a.loaded_models} for a in agents if a.changed
    ]
    if params:
        session.execute(_WRITE_AGENT, params)


def _vram_gb(agent: PassAgent) -> float:
    # Decimal GB, as cards are sold: NVML reports a "24 GB" RTX 4090 as 24564 MiB (23.99 GiB).
    return max((g.get("vram_total_mb", 0) for g in agent.gpus), default=0) / 1000


JOBS = Job.__table__
DEPENDENCIES = JobDependency.__table__


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


def _farm_state(agents: Iterable[PassAgent], settings: Settings, queue: Candidates) -> _FarmState:
    agents = [a for a in agents if not is_offline(a, settings)]
    return _FarmState(
        now=utcnow().timestamp(),
        loaded={a.id: list(a.loaded_models) for a in agents},
        vram={a.id: _vram_gb(a) for a in agents},
        queue=queue,
    )


BLOCKS = AgentBlock.__table__
_BLOCKED = select(BLOCKS.c.agent_id, BLOCKS.c.job_type).where(
    BLOCKS.c.agent_id.in_(bindparam("agent_ids", expanding=True)), BLOCKS.c.blocked.is_(True)
)


def _check_agent(agent: PassAgent | None, request: ClaimRequest) -> ApiError | None:
    """What the claim route would refuse with, as a value: the pass answers the other claims."""
    if agent is None:
        return NotFound(f"No agent with id {request.agent_id}.", field="agent_id")
    try:
        check_owner(agent, request.actor)
    except ApiError as refused:
        return refused
    return None


@dataclass
class PassResult:
    answers: list[Claim | None | Exception]  # one per request
    candidates: Candidates | None  # the queue snapshot, for the next pass
    recorded: list[AuditEvent]  # the leases' events, committed; the caller announces them


def claim_pass(
    session: Session,
    settings: Settings,
    requests: Sequence[ClaimRequest],
    cached: Candidates | None = None,
) -> PassResult:
    """Serve several waiting agents in one write transaction: each gets the scheduler's choice for it (or
    None). A request that is not allowed (unknown agent, another agent's key) gets its exception instead;
    the others go on. Commits."""
    results: list[Claim | None | Exception] = [None] * len(requests)
    agents = _read_agents(session)  # the waiters, and the farm they plan with
    active: list[tuple[int, ClaimRequest, PassAgent]] = []
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
            agent.last_seen_at = now
        if request.loaded_models is not None:
            agent.set(agent.state, list(request.loaded_models))
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
        _write_agents(session, agents.values())
        session.commit()
        return PassResult(results, candidates, [])
    blocked: dict[uuid.UUID, set[str]] = {}
    for agent_id, job_type in session.execute(_BLOCKED, {"agent_ids": [a.id for _, _, a in active]}):
        blocked.setdefault(agent_id, set()).add(job_type)
    farm = _farm_state(agents.values(), settings, candidates)
    # Agents that already hold a waiting job's model choose first (no load to pay), then in arrival order.
    wanted = {v.model for v in views if v.model}
    active.sort(key=lambda item: (not set(item[2].loaded_models) & wanted, item[0]))
    leases: list[tuple[int, ClaimRequest, PassAgent, Row[Any]]] = []
    while active and views:
        chosen: list[tuple[int, ClaimRequest, PassAgent, JobView]] = []
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
    answers, recorded = _lease(session, settings, leases, candidates.with_parents)
    for i, claim in answers.items():
        results[i] = claim
    _write_agents(session, agents.values())
    session.commit()
    return PassResult(results, candidates, recorded)


def _agent_view(agent: PassAgent, blocked: dict[uuid.UUID, set[str]]) -> AgentView:
    return AgentView(
        id=str(agent.id),
        vram_gb=_vram_gb(agent),
        loaded_model=agent.loaded_models[0] if agent.loaded_models else None,
        tags=frozenset(agent.tags),
        job_types=frozenset(agent.job_types) or None,
        blocked_types=frozenset(blocked.get(agent.id, ())),
    )


_LOCK = (
    select(JOBS)
    .where(
        JOBS.c.id.in_(bindparam("job_ids", expanding=True)),
        # Wrapped so that no index on status can serve it: SQLite (without ANALYZE statistics) would
        # otherwise walk the whole queue by the status index instead of looking up the ids.
        func.coalesce(JOBS.c.status, "") == "queued",
    )
    .with_for_update(skip_locked=True)
)


def _lock(job_ids: list[uuid.UUID], session: Session) -> dict[uuid.UUID, Row[Any]]:
    """The chosen jobs still queued, locked for this transaction. PostgreSQL passes over rows another
    server process holds (FOR UPDATE SKIP LOCKED); SQLite serialises writers (BEGIN IMMEDIATE). Plain rows,
    not ORM objects: the lease is written with one statement for all of them."""
    return {row.id: row for row in session.execute(_LOCK, {"job_ids": job_ids})}


# The columns a lease sets: the keys of the values `_lease` gives each job.
_LEASED = (
    "status",
    "agent_id",
    "lease_id",
    "lease_expires_at",
    "progress",
    "stage_text",
    "started_at",
    "not_before",
    "attempts",
)
_LEASE = (
    update(JOBS)
    .where(JOBS.c.id == bindparam("b_id"), JOBS.c.revision == bindparam("b_revision"))
    .values(revision=JOBS.c.revision + 1, **{name: bindparam(f"b_{name}") for name in _LEASED})
)


_RESOLVED = (
    update(JOBS)
    .where(JOBS.c.id == bindparam("b_id"))
    .values(
        **{
            name: bindparam(f"b_{name}", type_=JOBS.c[name].type)
            for name in ("inputs", "params", "graph", "take")
        }
    )
)


def _lease(
    session: Session,
    settings: Settings,
    leases: list[tuple[int, ClaimRequest, PassAgent, Row[Any]]],
    with_parents: set[uuid.UUID],
) -> tuple[dict[int, Claim], list[AuditEvent]]:
    """Lease each job to its agent: one UPDATE for all (the rows are locked), then one INSERT for their
    audit events, which are returned with the answers. The answers are built inside the transaction:
    nothing after the commit can fail and leave a job leased to an agent that never heard of it."""
    if not leases:
        return {}, []
    now = utcnow()
    expires = now + timedelta(seconds=settings.farm_lease_s)
    leased: dict[uuid.UUID, dict[str, Any]] = {}
    for _, _, agent, row in leases:
        leased[row.id] = {
            "status": "running",
            "agent_id": agent.id,
            "lease_id": uuid.uuid4().hex,
            "lease_expires_at": expires,
            "progress": 0.0,
            "stage_text": "",
            "started_at": now,  # this attempt's start: the timeout counts from here
            "not_before": None,
            "attempts": row.attempts + 1,  # tries, the first one included
        }
        # One model resident: the job's replaces the one loaded.
        loads = row.model and row.model not in agent.loaded_models
        agent.set("busy", [row.model] if loads else agent.loaded_models)
    written = session.execute(
        _LEASE,
        [
            {"b_id": row.id, "b_revision": row.revision, **{f"b_{k}": v for k, v in leased[row.id].items()}}
            for _, _, _, row in leases
        ],
    )
    if written.rowcount != len(leases):  # the rows are locked: only a broken database gets here
        raise RuntimeError(f"leased {written.rowcount} of {len(leases)} locked jobs; the pass is rolled back")
    # A recipe step's input is its parent's published output: filled in now (sync_server/recipes).
    resolved = resolve(session, [row._asdict() for _, _, _, row in leases if needs_parent(row.take)])
    if resolved:
        session.execute(
            _RESOLVED,
            [
                {"b_id": job_id, **{f"b_{k}": v for k, v in values.items()}}
                for job_id, values in resolved.items()
            ],
        )
    parents = _parents(session, [row.id for _, _, _, row in leases if row.id in with_parents])
    projects = _project_codes(session, {row.project_id for _, _, _, row in leases if row.project_id})
    answers: dict[int, Claim] = {}
    events = []
    for i, request, agent, row in leases:
        values = leased[row.id]
        mine = parents.get(row.id, [])
        job = {**row._asdict(), **values, **resolved.get(row.id, {}), "revision": row.revision + 1}
        out = job_out_of(job, [p.id for p in mine], agent.name, projects.get(row.project_id))
        by = UnitOfWork(session=session, hub=None, actor=request.actor, request_id=request.request_id)
        events.append(
            by.event(
                "job.updated",
                "job",
                row.id,
                project_id=row.project_id,
                revision_before=row.revision,
                revision_after=row.revision + 1,
                changes=changed(row, values),
                data=out.model_dump(mode="json"),
            )
        )
        answers[i] = Claim(job=_claimed(job, mine), lease=LeaseOut(id=values["lease_id"], expires_at=expires))
    UnitOfWork(session=session, hub=None, actor=SYSTEM).record_all(events)  # each names its own actor
    return answers, events


def _project_codes(session: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    rows = session.execute(select(Project.id, Project.code).where(Project.id.in_(ids)))
    return {project_id: code for project_id, code in rows}


_PARENTS = (
    select(DEPENDENCIES.c.job_id, JOBS.c.id, JOBS.c.version_id, JOBS.c.outputs)
    .join(JOBS, JOBS.c.id == DEPENDENCIES.c.parent_id)
    .where(DEPENDENCIES.c.job_id.in_(bindparam("job_ids", expanding=True)))
)


def _parents(session: Session, job_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[Row[Any]]]:
    """Each job's parents: id, version and outputs (what the agent is told)."""
    found: dict[uuid.UUID, list[Row[Any]]] = {}
    if not job_ids:
        return found
    for row in session.execute(_PARENTS, {"job_ids": job_ids}):
        found.setdefault(row.job_id, []).append(row)
    return found


def _claimed(job: dict[str, Any], parents: list[Row[Any]]) -> ClaimedJob:
    return ClaimedJob(
        id=job["id"],
        type=job["type"],
        workflow=job["workflow"],
        params=job["params"],
        graph=job["graph"],
        inputs=job["inputs"],
        parents=[
            {
                "id": str(p.id),
                "version_id": str(p.version_id) if p.version_id else None,
                "outputs": [{**o, "url": f"/api/farm/jobs/{p.id}/outputs/{o['name']}"} for o in p.outputs],
            }
            for p in parents
        ],
        priority=job["priority"],
        timeout_s=job["timeout_s"],
        attempt=job["attempts"],
    )
