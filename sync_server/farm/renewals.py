"""Heartbeats that never wait for a long write: a lease renewal (and an agent's "I am alive") is written at
once when the database lets it, else answered at once and written within `Settings.farm_lease_flush_s`.

On SQLite one write transaction runs at a time; a 20,000-row shot-list apply holds the write lock for about a
second. An agent's heartbeat must not wait for it. So a heartbeat first tries its write with a short lock
wait (`Database.quick_write_sessions`, 20 ms); when the lock is busy it checks the lease in a read session
(WAL readers never wait for the writer), answers, and leaves the write here. The farm's flusher writes what
is pending every `farm_lease_flush_s` (one write transaction for all of them), and the sweeper flushes before
it looks for expired leases. A lease counts as expired only `2 × farm_lease_flush_s` after its time, so a
renewal still pending in another server process (PostgreSQL replicas) lands before any sweeper takes the job.

A pending renewal never brings a lease back: its UPDATE applies only while the job is still running under
the same lease id, and never moves the expiry back. A flush that fails keeps its renewals for the next one
(unless a newer one for the same job or agent came meanwhile). What a crash loses (at most one flush
interval of renewals) the restart's grace covers (`lease.grant_restart_grace`).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import and_, bindparam, case, or_, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from ..context import Principal
from ..db.base import utcnow
from ..db.engine import Database, lock_busy
from ..db.models import Agent, Job
from . import live
from .agents import own_agent
from .schemas import AgentHeartbeat

logger = logging.getLogger(__name__)
R = TypeVar("R")


@dataclass(frozen=True)
class JobRenewal:
    """One job heartbeat's write: renew the lease `lease_id` until `expires`, note progress and stage."""

    job_id: uuid.UUID
    lease_id: str
    agent_id: uuid.UUID | None
    expires: datetime
    seen: datetime
    progress: float
    stage: str
    preview_mime: str | None = None  # set when this heartbeat brought a new preview


@dataclass(frozen=True)
class AgentRenewal:
    """One agent heartbeat's write: alive at `seen`, in `state` (draining wins over idle and busy)."""

    agent_id: uuid.UUID
    seen: datetime
    state: str
    reason: str
    loaded_models: list[str] | None
    gpus: list[dict[str, Any]] | None


def _held() -> Any:
    """The job `b_id` is still running under the lease `b_lease`."""
    jobs = Job.__table__.c
    return and_(jobs.id == bindparam("b_id"), jobs.status == "running", jobs.lease_id == bindparam("b_lease"))


def write_jobs(session: Session, renewals: Sequence[JobRenewal]) -> None:
    """Renew these leases (only those still held by the same lease id; an expiry never moves back) and mark
    their agents busy and alive. Does not commit."""
    if not renewals:
        return
    # Core statements on the tables, run as executemany (an ORM update with a list would be a bulk
    # update by primary key).
    connection = session.connection()
    jobs = Job.__table__.c
    later = or_(jobs.lease_expires_at.is_(None), jobs.lease_expires_at <= bindparam("b_expires"))
    common = {
        "lease_expires_at": bindparam("b_expires"),
        "progress": bindparam("b_progress"),
        "stage_text": bindparam("b_stage"),
    }
    plain = [r for r in renewals if r.preview_mime is None]
    previewed = [r for r in renewals if r.preview_mime is not None]
    for chosen, values in ((plain, common), (previewed, {**common, "preview_mime": bindparam("b_mime")})):
        if chosen:
            connection.execute(
                update(Job.__table__).where(_held(), later).values(**values), [_job_params(r) for r in chosen]
            )
    held = select(jobs.id).where(_held()).exists()
    agents = [r for r in renewals if r.agent_id is not None]
    if agents:
        agent = Agent.__table__.c
        connection.execute(
            update(Agent.__table__)
            .where(agent.id == bindparam("b_agent"), held)
            .values(state="busy", last_seen_at=_latest(agent.last_seen_at)),
            [
                {"b_agent": r.agent_id, "b_id": r.job_id, "b_lease": r.lease_id, "b_seen": r.seen}
                for r in agents
            ],
        )


def _job_params(r: JobRenewal) -> dict[str, Any]:
    return {
        "b_id": r.job_id,
        "b_lease": r.lease_id,
        "b_expires": r.expires,
        "b_progress": r.progress,
        "b_stage": r.stage,
        "b_mime": r.preview_mime,
    }


def _latest(column: Any) -> Any:
    """The later of the column's time and this heartbeat's (`b_seen`): a late write never moves it back."""
    seen = bindparam("b_seen")
    return case((or_(column.is_(None), column < seen), seen), else_=column)


def write_agents(session: Session, renewals: Sequence[AgentRenewal]) -> None:
    """Note these agents alive, with their reported state, models and GPUs (a draining agent stays
    `draining` unless it reports itself unavailable). Does not commit."""
    for keys, extra in (
        (("loaded_models", "gpus"), {"loaded_models": bindparam("b_models"), "gpus": bindparam("b_gpus")}),
        (("loaded_models",), {"loaded_models": bindparam("b_models")}),
        (("gpus",), {"gpus": bindparam("b_gpus")}),
        ((), {}),
    ):
        chosen = [r for r in renewals if _reported(r) == keys]
        if not chosen:
            continue
        state = bindparam("b_state")
        agent = Agent.__table__.c
        session.connection().execute(
            update(Agent.__table__)
            .where(agent.id == bindparam("b_agent"))
            .values(
                last_seen_at=_latest(agent.last_seen_at),
                state=case((and_(agent.draining.is_(True), state != "unavailable"), "draining"), else_=state),
                state_reason=bindparam("b_reason"),
                revision=agent.revision + 1,
                **extra,
            ),
            [
                {
                    "b_agent": r.agent_id,
                    "b_seen": r.seen,
                    "b_state": r.state,
                    "b_reason": r.reason,
                    "b_models": r.loaded_models,
                    "b_gpus": r.gpus,
                }
                for r in chosen
            ],
        )


def _reported(r: AgentRenewal) -> tuple[str, ...]:
    return tuple(k for k, v in (("loaded_models", r.loaded_models), ("gpus", r.gpus)) if v is not None)


class Renewals:
    """This server process's pending heartbeat writes, newest per job and per agent (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[uuid.UUID, JobRenewal] = {}
        self._agents: dict[uuid.UUID, AgentRenewal] = {}

    def defer_job(self, renewal: JobRenewal) -> None:
        with self._lock:
            self._keep_job(renewal)

    def defer_agent(self, renewal: AgentRenewal) -> None:
        with self._lock:
            self._keep_agent(renewal)

    def written_job(self, renewal: JobRenewal) -> None:
        """A heartbeat written at once: an older pending one for that job is superseded."""
        with self._lock:
            pending = self._jobs.get(renewal.job_id)
            if pending is not None and pending.seen <= renewal.seen:
                del self._jobs[renewal.job_id]

    def written_agent(self, renewal: AgentRenewal) -> None:
        with self._lock:
            pending = self._agents.get(renewal.agent_id)
            if pending is not None and pending.seen <= renewal.seen:
                del self._agents[renewal.agent_id]

    def pending(self) -> int:
        with self._lock:
            return len(self._jobs) + len(self._agents)

    def _keep_job(self, renewal: JobRenewal) -> None:
        pending = self._jobs.get(renewal.job_id)
        if pending is None or pending.seen <= renewal.seen:
            if pending is not None and renewal.preview_mime is None and pending.preview_mime is not None:
                renewal = JobRenewal(**{**renewal.__dict__, "preview_mime": pending.preview_mime})
            self._jobs[renewal.job_id] = renewal

    def _keep_agent(self, renewal: AgentRenewal) -> None:
        pending = self._agents.get(renewal.agent_id)
        if pending is None or pending.seen <= renewal.seen:
            if pending is not None:  # a newer beat without models or GPUs keeps the older one's report
                renewal = AgentRenewal(
                    **{
                        **renewal.__dict__,
                        "loaded_models": _first(renewal.loaded_models, pending.loaded_models),
                        "gpus": _first(renewal.gpus, pending.gpus),
                    }
                )
            self._agents[renewal.agent_id] = renewal

    def flush(self, db: Database) -> int:
        """Write every pending renewal in one write transaction (waiting for the lock as long as it takes).
        On failure they stay pending (unless newer ones came meanwhile) and the error is raised."""
        with self._lock:
            jobs, self._jobs = self._jobs, {}
            agents, self._agents = self._agents, {}
        if not jobs and not agents:
            return 0
        try:
            with db.write_sessions() as session:
                write_jobs(session, list(jobs.values()))
                write_agents(session, list(agents.values()))  # the agent's own report of its state last
                session.commit()
        except BaseException:
            with self._lock:
                for job in jobs.values():
                    self._keep_job_if_newest(job)
                for agent in agents.values():
                    self._keep_agent_if_newest(agent)
            raise
        return len(jobs) + len(agents)

    def _keep_job_if_newest(self, renewal: JobRenewal) -> None:
        if renewal.job_id not in self._jobs:
            self._jobs[renewal.job_id] = renewal
        else:
            newer = self._jobs[renewal.job_id]
            if newer.preview_mime is None and renewal.preview_mime is not None:
                self._jobs[renewal.job_id] = JobRenewal(
                    **{**newer.__dict__, "preview_mime": renewal.preview_mime}
                )

    def _keep_agent_if_newest(self, renewal: AgentRenewal) -> None:
        newer = self._agents.get(renewal.agent_id)
        if newer is None:
            self._agents[renewal.agent_id] = renewal
        else:
            self._agents[renewal.agent_id] = AgentRenewal(
                **{
                    **newer.__dict__,
                    "loaded_models": _first(newer.loaded_models, renewal.loaded_models),
                    "gpus": _first(newer.gpus, renewal.gpus),
                }
            )


def now_or_later(
    db: Database, make: Callable[[Session], R], write: Callable[[Session, R], None]
) -> tuple[R, bool]:
    """`make(session)` checks the caller's right (raising its 4xx) and builds the renewal; `write` writes it.
    Written at once (True) when the write lock (SQLite) or the rows (PostgreSQL) are free within
    `QUICK_LOCK_WAIT_MS`; else built again in a read session, unwritten (False: the caller defers it)."""
    try:
        with db.quick_write_sessions() as session:
            made = make(session)
            write(session, made)
            session.commit()
        return made, True
    except DBAPIError as exc:
        if not lock_busy(exc):
            raise
    with db.read_sessions() as session:
        return make(session), False


def agent_heartbeat(
    db: Database, renewals: Renewals, agent_id: uuid.UUID, principal: Principal, body: AgentHeartbeat
) -> tuple[str, dict[str, Any]]:
    """Note the agent alive (no audit event: this happens every few seconds); say whether to drain. An agent
    whose ComfyUI does not answer says `unavailable` with the reason. Returns the action and the live
    reading for dashboards. Never waits for a long write (see the module's text)."""
    seen = utcnow()

    def make(session: Session) -> tuple[AgentRenewal, dict[str, Any], bool]:
        agent = own_agent(session, agent_id, principal)
        renewal = AgentRenewal(
            agent_id=agent.id,
            seen=seen,
            state=body.state,
            reason=body.reason[:500] if body.state == "unavailable" else "",
            loaded_models=list(body.loaded_models) if body.loaded_models is not None else None,
            gpus=[g.model_dump() for g in body.gpus] if body.gpus is not None else None,
        )
        state = "draining" if agent.draining and body.state != "unavailable" else body.state
        reading = live.agent_reading(
            agent.id,
            state,
            renewal.reason,
            _first(renewal.gpus, agent.gpus),
            _first(renewal.loaded_models, agent.loaded_models),
            seen,
        )
        return renewal, reading, agent.draining

    (renewal, reading, draining), written = now_or_later(db, make, lambda s, m: write_agents(s, [m[0]]))
    if written:
        renewals.written_agent(renewal)
    else:
        renewals.defer_agent(renewal)
    return ("drain" if draining else "continue"), reading


def _first(value: Any, fallback: Any) -> Any:
    return value if value is not None else fallback
