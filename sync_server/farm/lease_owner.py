"""Job routes act only for the agent holding the lease: knowing a lease id is not enough."""

from __future__ import annotations

import uuid

from fastapi import Depends, Request
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from ..db.models import Agent, Job
from ..deps import PrincipalDep, ServicesDep
from ..errors import Forbidden

UPLOAD_LIMITS = {"max_files": 100, "max_fields": 10}  # the outputs route's own limits (the form is cached)


async def _lease_id_of(request: Request) -> str | None:
    """The `lease_id` the caller presents (JSON body or multipart form field); None when it sent none."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        value = (await request.form(**UPLOAD_LIMITS)).get("lease_id")
    else:
        try:
            body = await request.json()
        except ValueError:
            return None
        value = body.get("lease_id") if isinstance(body, dict) else None
    return value if isinstance(value, str) else None


async def own_lease(
    job_id: uuid.UUID, request: Request, principal: PrincipalDep, services: ServicesDep
) -> None:
    """403 when the caller presents the job's current lease but the job is leased to an agent that another
    API key registered (admins may act for any). A lease that is no longer the job's is left to the route:
    `409 lease-lost`, so an agent whose job went elsewhere drops it instead of taking a 403 for a bad key."""
    if principal.role == "admin":
        return

    def holder() -> tuple[uuid.UUID | None, str | None] | None:
        with services.db.read_sessions() as session:
            row = session.execute(
                select(Agent.api_key_id, Job.lease_id)
                .join(Job, Job.agent_id == Agent.id)
                .where(Job.id == job_id)
            ).first()
        return None if row is None else (row.api_key_id, row.lease_id)

    found = await run_in_threadpool(holder)
    if found is None:
        return
    api_key_id, current_lease = found
    if api_key_id in (None, principal.id) or await _lease_id_of(request) != current_lease:
        return
    raise Forbidden("This job is leased to an agent of another API key.", field="lease_id")


OwnLease = Depends(own_lease)
