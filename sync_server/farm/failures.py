"""What a failure does to a job: the failure classes, lost leases without blame, and the job's children.

A failure the job raised is one of three kinds (docs/agent-protocol.md, "Fail"):
- `input`: it depends only on the job's inputs (ComfyUI refused the graph, a bad parameter): the job
  fails at once, on every agent it would fail the same way;
- `node`: a node raised while running: tried once more on another suitable agent; on a farm with no
  other suitable agent, again on the same one after a back-off, until `max_attempts` failures;
- `agent`: this host could not do it (ComfyUI away, inputs not fetched): tried elsewhere, as before.
A lease lost through an agent restart, a server restart or network loss is nobody's failure: the job goes
back to the queue at once, keeps its place, and counts no failure against the agent.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .. import resources
from ..context import UnitOfWork
from ..db.base import utcnow
from ..db.models import Agent, AgentBlock, Job, JobDependency
from ..settings import Settings
from .agents import is_offline

FailureKind = Literal["input", "node", "agent"]
MAX_BACKOFF_S = 600.0
MAX_LEASE_LOSSES = 10  # a job that keeps killing its agents fails after this many lost leases
NODE_ERROR_AGENTS = 2  # a node error is tried on at most one other agent
UPSTREAM = "upstream job "  # the start of the error of a child failed because of its parent


def backoff(settings: Settings, failures: int) -> timedelta:
    return timedelta(seconds=min(MAX_BACKOFF_S, settings.farm_retry_backoff_s * 2 ** max(failures - 1, 0)))


def agent_idle(session: Session, agent_id: uuid.UUID | None) -> None:
    if agent_id is not None:
        session.execute(update(Agent).where(Agent.id == agent_id).values(state="idle", last_seen_at=utcnow()))


def blame(
    uow: UnitOfWork,
    settings: Settings,
    job: Job,
    error: str,
    kind: FailureKind,
    out: Callable[[Job], Any],
) -> Any:
    """A failure the job raised on its agent: back to the queue after a back-off, or failed for good."""
    session = uow.session
    agent_key = str(job.agent_id) if job.agent_id else "unknown"
    failures = [*job.failures, {"agent": agent_key, "kind": kind, "error": error[:2000], "at": _now()}]
    failed_on = list(dict.fromkeys(f["agent"] for f in failures))
    if kind == "input":
        final = True
    elif kind == "node":
        node_agents = {f["agent"] for f in failures if f["kind"] == "node"}
        final = len(node_agents) >= NODE_ERROR_AGENTS or len(failures) >= job.max_attempts
    else:
        final = (
            len(failed_on) >= settings.farm_max_agents_per_job
            or len(failures) >= job.max_attempts * settings.farm_max_agents_per_job
        )
    excluded = list(job.failed_agents)
    # A node error stays with this agent only when no other one could take it (asked only then).
    if (
        job.agent_id is not None
        and agent_key not in excluded
        and (
            final or kind == "agent" or _another_agent_can_run(session, settings, job, [*excluded, agent_key])
        )
    ):
        excluded.append(agent_key)
    values: dict[str, Any] = {
        "failures": failures,
        "failed_agents": excluded,
        "error": error,
        "lease_id": None,
        "lease_expires_at": None,
        "progress": 0.0,
        "stage_text": "",
    }
    cancelled = not final and job.cancel_requested
    if final:
        values.update(status="failed", finished_at=utcnow())
    elif cancelled:  # a wrangler cancelled it while it ran: it ends here instead of being tried again
        values.update(status="cancelled", finished_at=utcnow(), agent_id=None, outputs=[])
    else:
        # What the failed try uploaded is not this job's result: the next try uploads its own.
        values.update(
            status="queued",
            agent_id=None,
            not_before=utcnow() + backoff(settings, len(failures)),
            outputs=[],
        )
    if job.agent_id is not None:
        if kind != "input":  # an input error is the job's, not the agent's
            _count_failure(session, settings, job.agent_id, job.type)
        agent_idle(session, job.agent_id)
    result = resources.update(uow, _resource(out), job, values, job.revision, commit=False)
    if final or cancelled:
        fail_children(uow, job, "failed" if final else "was cancelled", out)
    return result


def lease_lost(uow: UnitOfWork, job: Job, why: str, out: Callable[[Job], Any]) -> Any:
    """Requeue without blame (agent restart or kill, server restart, network loss): offered again at once,
    its age kept, no failure counted. A job that keeps losing its lease fails in the end."""
    losses = job.lease_losses + 1
    values: dict[str, Any] = {
        "lease_losses": losses,
        "error": f"lease lost: {why}",
        "lease_id": None,
        "lease_expires_at": None,
        "agent_id": None,
        "progress": 0.0,
        "stage_text": "",
        "not_before": None,
    }
    final = losses >= MAX_LEASE_LOSSES
    if job.cancel_requested:  # cancelled while it ran and its agent is gone: it ends cancelled, not requeued
        values.update(status="cancelled", finished_at=utcnow(), outputs=[])
        result = resources.update(uow, _resource(out), job, values, job.revision, commit=False)
        fail_children(uow, job, "was cancelled", out)
        return result
    if final:
        values.update(
            status="failed",
            finished_at=utcnow(),
            error=f"lease lost {losses} times (agents died running it); last: {why}",
        )
    else:
        values.update(status="queued", outputs=[])  # the lost try's uploads are not the job's result
    result = resources.update(uow, _resource(out), job, values, job.revision, commit=False)
    if final:
        fail_children(uow, job, "failed", out)
    return result


def fail_children(uow: UnitOfWork, parent: Job, how: str, out: Callable[[Job], Any]) -> int:
    """Every queued job downstream of `parent` fails, naming the upstream job (retrying it re-queues them)."""
    values = {"status": "failed", "error": f"{UPSTREAM}{parent.id} {how}"}
    return _update_downstream(uow, parent, "queued", lambda _child: True, values, out)


def requeue_children(uow: UnitOfWork, parent: Job, out: Callable[[Job], Any]) -> int:
    """The children failed because of `parent` (and theirs) wait in the queue again."""
    values = {"status": "queued", "finished_at": None, "error": ""}
    return _update_downstream(uow, parent, "failed", lambda c: c.error.startswith(UPSTREAM), values, out)


def _update_downstream(
    uow: UnitOfWork,
    parent: Job,
    status: str,
    chosen: Callable[[Job], bool],
    values: dict[str, Any],
    out: Callable[[Job], Any],
) -> int:
    """Set `values` on every job downstream of `parent` in `status` that `chosen` accepts, level by level
    (a child not chosen stops the walk below it); how many changed."""
    count, frontier = 0, [parent.id]
    while frontier:
        children = list(
            uow.session.scalars(
                select(Job)
                .join(JobDependency, JobDependency.job_id == Job.id)
                .where(JobDependency.parent_id.in_(frontier), Job.status == status)
            ).unique()
        )
        frontier = []
        for child in (c for c in children if chosen(c)):
            update = dict(values)
            if update.get("status") == "failed":
                update["finished_at"] = utcnow()
            resources.update(uow, _resource(out), child, update, child.revision, commit=False)
            frontier.append(child.id)
            count += 1
    return count


def upstream_failure(session: Session, parents: list[uuid.UUID]) -> str | None:
    """The error a new job is born failed with when one of its parents already failed or was cancelled."""
    for parent_id, status in session.execute(select(Job.id, Job.status).where(Job.id.in_(parents))):
        if status in ("failed", "cancelled"):
            return f"{UPSTREAM}{parent_id} {status}"
    return None


def _another_agent_can_run(session: Session, settings: Settings, job: Job, excluded: list[str]) -> bool:
    """Is some other agent up that could run this job (type, VRAM, tags, not blocklisted, not excluded)?"""
    blocked = set(
        session.scalars(
            select(AgentBlock.agent_id).where(AgentBlock.job_type == job.type, AgentBlock.blocked.is_(True))
        )
    )
    for agent in session.scalars(select(Agent).where(Agent.draining.is_(False))):
        if str(agent.id) in excluded or agent.id in blocked or is_offline(agent, settings):
            continue
        if agent.state == "unavailable":  # its ComfyUI does not answer
            continue
        if agent.job_types and job.type not in agent.job_types:
            continue
        vram = max((g.get("vram_total_mb", 0) for g in agent.gpus), default=0) / 1000
        if vram < job.min_vram_gb or not set(job.tags) <= set(agent.tags):
            continue
        return True
    return False


def _count_failure(session: Session, settings: Settings, agent_id: uuid.UUID, job_type: str) -> None:
    row = session.get(AgentBlock, (agent_id, job_type))
    if row is None:
        row = AgentBlock(agent_id=agent_id, job_type=job_type, failures=0)
        session.add(row)
    row.failures = (row.failures or 0) + 1
    row.blocked = row.failures >= settings.farm_blocklist_after


def _resource(out: Callable[[Job], Any]) -> resources.Resource:
    return resources.Resource(Job, "job", out)


def _now() -> str:
    return utcnow().isoformat()
