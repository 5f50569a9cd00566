"""Heartbeats written later (sync_server/farm/renewals.py): a renewal left pending while the database was busy
is written by the next flush, never brings back a lease that ended meanwhile, never moves an expiry back,
survives a failed flush; and the sweeper gives other servers' pending renewals their time. On a real migrated
database (SQLite, and PostgreSQL when it is there)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from sync_server.context import SYSTEM, UnitOfWork
from sync_server.db.base import utcnow
from sync_server.db.engine import Database
from sync_server.db.models import Agent, Job
from sync_server.farm import lease
from sync_server.farm.renewals import AgentRenewal, JobRenewal, Renewals
from sync_server.settings import Settings
from tests.support.statements import migrated_database


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    yield from migrated_database(request, tmp_path / "renewals.db")


def running_job(
    db: Database, lease_id: str = "lease-1", expires_in_s: float = 30.0
) -> tuple[uuid.UUID, uuid.UUID]:
    """An agent and a job running under `lease_id`, its lease ending `expires_in_s` from now."""
    now = utcnow()
    with db.write_sessions() as session:
        agent = Agent(name=f"agent-{uuid.uuid4().hex[:8]}", state="idle", last_seen_at=now)
        session.add(agent)
        session.flush()
        job = Job(
            type="cpu_test_still_video",
            status="running",
            agent_id=agent.id,
            lease_id=lease_id,
            started_at=now,
            lease_expires_at=now + timedelta(seconds=expires_in_s),
        )
        session.add(job)
        session.commit()
        return job.id, agent.id


def read(db: Database, model: type, row_id: uuid.UUID) -> Any:
    with db.read_sessions() as session:
        return session.get(model, row_id)


def renewal(
    job_id: uuid.UUID, agent_id: uuid.UUID, lease_id: str, seconds: float, progress: float
) -> JobRenewal:
    now = utcnow()
    return JobRenewal(job_id, lease_id, agent_id, now + timedelta(seconds=seconds), now, progress, "KSampler")


def test_a_pending_renewal_is_written_by_the_flush(db: Database) -> None:
    job_id, agent_id = running_job(db)
    renewals = Renewals()
    beat = renewal(job_id, agent_id, "lease-1", 60, 0.4)
    renewals.defer_job(beat)
    renewals.defer_agent(
        AgentRenewal(agent_id, utcnow(), "unavailable", "ComfyUI away", None, [{"index": 0}])
    )
    assert renewals.flush(db) == 2 and renewals.pending() == 0
    job = read(db, Job, job_id)
    assert job.progress == 0.4 and job.stage_text == "KSampler"
    assert job.lease_expires_at == beat.expires.replace(tzinfo=job.lease_expires_at.tzinfo)
    agent = read(db, Agent, agent_id)
    assert (
        agent.state == "unavailable" and agent.state_reason == "ComfyUI away" and agent.gpus == [{"index": 0}]
    )


def test_a_pending_renewal_never_brings_back_a_lease_that_ended(db: Database) -> None:
    job_id, agent_id = running_job(db)
    renewals = Renewals()
    renewals.defer_job(renewal(job_id, agent_id, "lease-1", 60, 0.4))
    # Meanwhile the lease expired and the job went to another agent under a new lease.
    with db.write_sessions() as session:
        session.execute(update(Job).where(Job.id == job_id).values(lease_id="lease-2", progress=0.0))
        session.execute(update(Agent).where(Agent.id == agent_id).values(state="idle"))
        session.commit()
    before = read(db, Job, job_id).lease_expires_at
    renewals.flush(db)
    job = read(db, Job, job_id)
    assert job.lease_id == "lease-2" and job.progress == 0.0 and job.lease_expires_at == before
    assert read(db, Agent, agent_id).state == "idle"  # not marked busy for a job it no longer holds
    # And a job that was requeued (no lease) stays queued.
    with db.write_sessions() as session:
        session.execute(
            update(Job).where(Job.id == job_id).values(status="queued", lease_id=None, lease_expires_at=None)
        )
        session.commit()
    renewals.defer_job(renewal(job_id, agent_id, "lease-2", 60, 0.9))
    renewals.flush(db)
    job = read(db, Job, job_id)
    assert job.status == "queued" and job.lease_expires_at is None and job.progress == 0.0


def test_a_late_renewal_never_moves_the_expiry_back(db: Database) -> None:
    job_id, agent_id = running_job(db, expires_in_s=120)
    renewals = Renewals()
    renewals.defer_job(renewal(job_id, agent_id, "lease-1", 60, 0.3))  # older than what is stored
    renewals.flush(db)
    assert read(db, Job, job_id).progress == 0.0


class BrokenDatabase:
    """A database whose write transactions fail (the flush's error path)."""

    def write_sessions(self) -> Any:
        raise RuntimeError("database away")


def test_a_failed_flush_keeps_its_renewals_and_the_newest_wins(db: Database) -> None:
    job_id, agent_id = running_job(db)
    renewals = Renewals()
    renewals.defer_job(renewal(job_id, agent_id, "lease-1", 60, 0.2))
    with pytest.raises(RuntimeError):
        renewals.flush(BrokenDatabase())  # type: ignore[arg-type]
    assert renewals.pending() == 1
    renewals.defer_job(renewal(job_id, agent_id, "lease-1", 61, 0.5))  # a newer beat meanwhile
    assert renewals.flush(db) == 1
    assert read(db, Job, job_id).progress == 0.5


def test_the_sweeper_leaves_a_lease_its_flush_grace_and_takes_it_after(db: Database) -> None:
    settings = Settings(farm_lease_flush_s=2.0)
    recent, _ = running_job(db, "lease-a", expires_in_s=-1.0)  # ran out 1 s ago: within 2 × 2 s
    old, _ = running_job(db, "lease-b", expires_in_s=-10.0)
    with db.write_sessions() as session:
        taken = lease.expire_leases(UnitOfWork(session=session, hub=None, actor=SYSTEM), settings)
    assert taken == 1
    assert read(db, Job, recent).status == "running"
    assert read(db, Job, old).status == "queued"
