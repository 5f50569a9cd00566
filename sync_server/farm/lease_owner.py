"""Job routes act only for the agent holding the lease: knowing a lease id is not enough."""

from __future__ import annotations

import uuid

from fastapi import Depends
from sqlalchemy import select

from ..db.models import Agent, Job
from ..deps import PrincipalDep, ServicesDep
from ..errors import Forbidden


def own_lease(job_id: uuid.UUID, principal: PrincipalDep, services: ServicesDep) -> None:
    """403 when the job is leased to an agent that another API key registered (admins may act for any)."""
    if principal.role == "admin":
        return
    with services.db.read_sessions() as session:
        holder = session.execute(
            select(Agent.api_key_id).join(Job, Job.agent_id == Agent.id).where(Job.id == job_id)
        ).first()
    if holder is not None and holder.api_key_id not in (None, principal.id):
        raise Forbidden("This job is leased to an agent of another API key.", field="lease_id")


OwnLease = Depends(own_lease)
