"""Agents: registration, heartbeats, drain, and the blocklist."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from aipipe_shared.protocol import OLDEST_PROTOCOL_VERSION, PROTOCOL_VERSION, refusal

from .. import resources
from ..context import Principal, UnitOfWork
from ..crud import get_or_404
from ..db.base import utcnow
from ..db.models import Agent, AgentBlock, ComfyObjectInfo, Job
from ..errors import Forbidden, Unprocessable
from ..settings import Settings
from .schemas import AgentOut, AgentRegister, AgentRegistered, BlockOut


def agent_out(session: Session, agent: Agent, settings: Settings | None = None) -> AgentOut:
    current = session.scalar(select(Job.id).where(Job.agent_id == agent.id, Job.status == "running").limit(1))
    blocked = session.scalars(
        select(AgentBlock.job_type).where(AgentBlock.agent_id == agent.id, AgentBlock.blocked.is_(True))
    ).all()
    return _agent_out(agent, current, list(blocked), settings)


def agents_out(session: Session, listed: list[Agent], settings: Settings) -> list[AgentOut]:
    """Many agents as the API shows them, with two queries in all (the farm dashboard lists every agent)."""
    current: dict[uuid.UUID, uuid.UUID] = {}
    for agent_id, job_id in session.execute(
        select(Job.agent_id, Job.id).where(Job.status == "running", Job.agent_id.is_not(None))
    ):
        current.setdefault(agent_id, job_id)
    blocked: dict[uuid.UUID, list[str]] = {}
    for agent_id, job_type in session.execute(
        select(AgentBlock.agent_id, AgentBlock.job_type).where(AgentBlock.blocked.is_(True))
    ):
        blocked.setdefault(agent_id, []).append(job_type)
    return [_agent_out(a, current.get(a.id), blocked.get(a.id, []), settings) for a in listed]


def _agent_out(
    agent: Agent, current: uuid.UUID | None, blocked: list[str], settings: Settings | None
) -> AgentOut:
    state = agent.state
    if settings is not None and is_offline(agent, settings):
        state = "offline"
    data = {c.key: getattr(agent, c.key) for c in Agent.__table__.columns}
    return AgentOut.model_validate(
        {**data, "state": state, "current_job_id": current, "blocked_types": blocked}
    )


def _res(session: Session) -> resources.Resource:
    return resources.Resource(Agent, "agent", lambda a: agent_out(session, a))


class AgentLike(Protocol):
    """What the checks below read: an ORM agent, or the plain row a claim pass works with."""

    api_key_id: uuid.UUID | None
    last_seen_at: datetime | None


def is_offline(agent: AgentLike, settings: Settings) -> bool:
    seen = agent.last_seen_at
    return seen is None or utcnow() - seen > timedelta(seconds=settings.farm_agent_offline_s)


def own_agent(session: Session, agent_id: uuid.UUID, principal: Principal) -> Agent:
    """The agent, if the caller is that agent's API key (or an admin)."""
    agent = get_or_404(session, Agent, agent_id, "agent")
    check_owner(agent, principal)
    return agent


def check_owner(agent: AgentLike, principal: Principal) -> None:
    """403 unless the caller is this agent's API key (or an admin)."""
    if principal.role != "admin" and agent.api_key_id not in (None, principal.id):
        raise Forbidden("This API key belongs to another agent.", field="agent_id")


class UnsupportedProtocol(Unprocessable):
    title, type_slug = "Unsupported protocol version", "unsupported-protocol"


def register(uow: UnitOfWork, settings: Settings, body: AgentRegister) -> AgentRegistered:
    why = refusal(body.protocol_version)
    if why:
        raise UnsupportedProtocol(
            why, field="protocol_version", supported=[OLDEST_PROTOCOL_VERSION, PROTOCOL_VERSION]
        )
    session = uow.session
    values: dict[str, Any] = body.model_dump()
    values["gpus"] = [g for g in values["gpus"]]
    values.update(
        last_seen_at=utcnow(),
        state="idle",
        state_reason="",
        api_key_id=uow.actor.id if uow.actor.kind == "api_key" else None,
    )
    agent = session.scalar(select(Agent).where(Agent.name == body.name))
    if agent is None:
        agent = Agent(**values)
        resources.create(uow, _res(session), agent, commit=False)
    else:
        if agent.api_key_id not in (None, values["api_key_id"]) and uow.actor.role != "admin":
            raise Forbidden(f"Agent '{body.name}' is registered with another API key.", field="name")
        # A restart: whatever it was running is not running any more (not the job's fault, nor the agent's).
        from .lease import requeue_lost

        for job in session.scalars(select(Job).where(Job.agent_id == agent.id, Job.status == "running")):
            requeue_lost(uow, job, "the agent restarted")
        resources.update(uow, _res(session), agent, values, agent.revision, commit=False)
    uow.commit()
    return AgentRegistered(
        agent_id=agent.id,
        protocol_version=body.protocol_version,
        lease_s=settings.farm_lease_s,
        heartbeat_s=settings.farm_heartbeat_s,
        claim_wait_max_s=settings.farm_claim_wait_max_s,
    )


def store_object_info(session: Session, agent: Agent, info: dict[str, Any]) -> str:
    """Keep the agent's ComfyUI `/object_info` (once per distinct content); graphs are checked against it."""
    if not isinstance(info, dict) or not info or not all(isinstance(v, dict) for v in info.values()):
        raise Unprocessable(
            "expected ComfyUI's /object_info: node classes mapped to their descriptions", field="body"
        )
    sha = hashlib.sha256(json.dumps(info, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    if session.get(ComfyObjectInfo, sha) is None:
        session.add(ComfyObjectInfo(sha256=sha, data=info))
        session.flush()
    agent.object_info_sha = sha
    session.commit()
    return sha


def set_draining(uow: UnitOfWork, agent_id: uuid.UUID, draining: bool) -> AgentOut:
    session = uow.session
    agent = get_or_404(session, Agent, agent_id, "agent")
    return resources.update(uow, _res(session), agent, {"draining": draining}, agent.revision)  # type: ignore[return-value]


def blocklist(session: Session, agent_id: uuid.UUID | None = None) -> list[BlockOut]:
    stmt = (
        select(AgentBlock, Agent.name)
        .join(Agent, Agent.id == AgentBlock.agent_id)
        .where(AgentBlock.blocked.is_(True))
    )
    if agent_id is not None:
        stmt = stmt.where(AgentBlock.agent_id == agent_id)
    return [
        BlockOut(agent_id=b.agent_id, agent_name=name, job_type=b.job_type, failures=b.failures, blocked=True)
        for b, name in session.execute(stmt.order_by(Agent.name, AgentBlock.job_type))
    ]


def clear_block(uow: UnitOfWork, agent_id: uuid.UUID, job_type: str | None) -> int:
    session = uow.session
    get_or_404(session, Agent, agent_id, "agent")
    stmt = select(AgentBlock).where(AgentBlock.agent_id == agent_id)
    if job_type:
        stmt = stmt.where(AgentBlock.job_type == job_type)
    rows = list(session.scalars(stmt))
    for row in rows:
        session.delete(row)
    uow.record(
        "agent.blocklist_cleared", "agent", agent_id, changes={"job_types": [[r.job_type for r in rows], []]}
    )
    uow.commit()
    return len(rows)
