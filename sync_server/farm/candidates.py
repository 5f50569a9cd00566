"""The queue as a claim pass sees it: the runnable jobs (the columns the scheduler reads), queued work per
model and the running jobs, read in a few summing queries and reused by the next pass while valid."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, exists, func, or_, select
from sqlalchemy.orm import Session

from ..db.base import utcnow
from ..db.models import Job, JobDependency
from .scheduler import JobView

JOBS = Job.__table__
DEPENDENCIES = JobDependency.__table__
CANDIDATES = 300  # runnable jobs shown to the scheduler per pass (highest priority first, plus same-model)
_VIEW_COLUMNS = tuple(
    JOBS.c[name]
    for name in (
        "id",
        "type",
        "priority",
        "min_vram_gb",
        "model",
        "created_at",
        "tags",
        "failed_agents",
        "project_id",
        "estimate_s",
    )
)


def candidate_rows(session: Session, vram_gb: float, models: Iterable[str]) -> list[Row[Any]]:
    """Runnable queued jobs (parents done, back-off over, VRAM within `vram_gb`): the columns the scheduler
    reads, never the graph or params. The highest priority first, plus the same-model ones."""
    parent = JOBS.alias("parent")
    waiting_on_parent = exists(
        select(DEPENDENCIES.c.job_id)
        .join(parent, parent.c.id == DEPENDENCIES.c.parent_id)
        .where(DEPENDENCIES.c.job_id == JOBS.c.id, parent.c.status != "succeeded")
    )
    now = utcnow()
    has_parents = exists(select(DEPENDENCIES.c.job_id).where(DEPENDENCIES.c.job_id == JOBS.c.id))
    base = select(*_VIEW_COLUMNS, has_parents.label("has_parents")).where(
        JOBS.c.status == "queued",
        or_(JOBS.c.not_before.is_(None), JOBS.c.not_before <= now),
        JOBS.c.min_vram_gb <= vram_gb,
        ~waiting_on_parent,
    )
    order = (JOBS.c.priority.desc(), JOBS.c.created_at)
    found = {row.id: row for row in session.execute(base.order_by(*order).limit(CANDIDATES)).all()}
    wanted = sorted(set(models))
    if wanted:
        same_model = base.where(JOBS.c.model.in_(wanted)).order_by(*order).limit(CANDIDATES // 3)
        for row in session.execute(same_model).all():
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
    with_parents: set[uuid.UUID]  # those of them that depend on others (whose outputs a lease sends along)
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
    running = JOBS.c.status == "running"
    # Summed in the database: a pass must not read every running job (a big farm runs thousands).
    running_by_project = session.execute(
        select(JOBS.c.project_id, func.count()).where(running).group_by(JOBS.c.project_id)
    ).all()
    running_by_agent = session.execute(
        select(JOBS.c.agent_id, func.max(JOBS.c.started_at), func.max(JOBS.c.estimate_s))
        .where(running, JOBS.c.agent_id.is_not(None))
        .group_by(JOBS.c.agent_id)
    ).all()
    queued = session.execute(
        select(JOBS.c.model, func.sum(JOBS.c.estimate_s), func.max(JOBS.c.min_vram_gb))
        .where(JOBS.c.status == "queued", JOBS.c.model.is_not(None))
        .group_by(JOBS.c.model)
    ).all()
    work: dict[uuid.UUID, float] = {}
    priority: dict[uuid.UUID, int] = {}
    if rows:
        child = JOBS.alias("child")
        waiting = session.execute(
            select(DEPENDENCIES.c.parent_id, func.sum(child.c.estimate_s), func.max(child.c.priority))
            .join(child, child.c.id == DEPENDENCIES.c.job_id)
            .where(DEPENDENCIES.c.parent_id.in_([row.id for row in rows]), child.c.status == "queued")
            .group_by(DEPENDENCIES.c.parent_id)
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
            # Its age counts from its submission: a job back from a failure or a lost lease keeps its place.
            ready_at=None,
        )
        for row in rows
    }
    return Candidates(
        views=views,
        with_parents={row.id for row in rows if row.has_parents},
        complete=len(rows) < CANDIDATES,
        vram_gb=vram_gb,
        models=models,
        demand_s={model: float(total or 0) for model, total, _ in queued},
        model_vram_gb={model: float(vram or 0) for model, _, vram in queued},
        # An agent runs one job at a time: its latest start plus its longest estimate.
        busy_until={
            agent_id: (started or now).timestamp() + (estimate or 0.0)
            for agent_id, started, estimate in running_by_agent
        },
        running_by_project=Counter({str(project): count for project, count in running_by_project}),
    )
