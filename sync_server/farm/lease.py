"""A running job's lease: heartbeats renew it; complete, fail and release end it; expiry requeues it."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .. import resources
from ..context import UnitOfWork
from ..costs import budget
from ..db.base import utcnow
from ..db.engine import Database
from ..db.models import Job, Version
from ..errors import Conflict, Unprocessable
from ..settings import Settings
from . import failures, live, previews
from .jobs import get_job, job_out
from .renewals import JobRenewal, Renewals, now_or_later, write_jobs
from .schemas import JobComplete, JobFail, JobHeartbeat

logger = logging.getLogger(__name__)

FARM_DIR = ".farm"
CHUNK = 1024 * 1024


Publisher = Callable[[Job, dict[str, Any]], uuid.UUID]  # (job, agent's provenance) -> the version made


class LeaseLost(Conflict):
    title, type_slug = "Lease lost", "lease-lost"


def _res(session: Session) -> resources.Resource:
    return resources.Resource(Job, "job", lambda job: job_out(session, job))


def leased(session: Session, job_id: uuid.UUID, lease_id: str) -> Job:
    """The job, if `lease_id` still holds it; else 409 lease-lost (the agent must drop the job)."""
    job = get_job(session, job_id)
    if job.status != "running" or job.lease_id != lease_id:
        raise LeaseLost(
            "This job is no longer leased to you: drop it and report nothing more.",
            field="lease_id",
            status_now=job.status,
        )
    return job


def heartbeat(
    db: Database, settings: Settings, renewals: Renewals, job_id: uuid.UUID, body: JobHeartbeat
) -> tuple[str, Any, dict[str, Any]]:
    """Renew the lease and note progress (no audit event: this happens every few seconds); also return the
    live reading for dashboards (`live.job_progress`). Written at once when the database's lock is free,
    else answered at once and written by the next flush (`renewals`): a heartbeat never waits for a long
    write. A lease that is no longer this one's: 409 lease-lost either way."""
    now = utcnow()
    expires = now + timedelta(seconds=settings.farm_lease_s)
    stored: list[str] = []  # a preview is stored once, even when its write is tried twice

    def make(session: Session) -> tuple[JobRenewal, dict[str, Any], bool]:
        job = leased(session, job_id, body.lease_id)
        if body.preview is not None and not stored:
            stored.append(previews.store(settings, FARM_DIR, job.id, body.preview))
        renewal = JobRenewal(
            job_id=job.id,
            lease_id=body.lease_id,
            agent_id=job.agent_id,
            expires=expires,
            seen=now,
            progress=body.progress,
            stage=body.stage,
            preview_mime=stored[0] if stored else None,
        )
        reading = live.job_progress(
            job.id,
            job.project_id,
            job.agent_id,
            body.progress,
            body.stage,
            renewal.preview_mime or job.preview_mime,
            body.preview is not None,
        )
        return renewal, reading, job.cancel_requested

    (renewal, reading, cancel), written = now_or_later(db, make, lambda s, m: write_jobs(s, [m[0]]))
    if written:
        renewals.written_job(renewal)
    else:
        renewals.defer_job(renewal)
    return ("cancel" if cancel else "continue"), expires, reading


def outputs_dir(settings: Settings, job_id: uuid.UUID) -> Path:
    return settings.resolved_storage_root / FARM_DIR / "jobs" / str(job_id)


def drop_stray_outputs(folder: Path, kept: set[str]) -> list[str]:
    """Remove the files in a finished job's outputs folder that are not among its outputs: what an earlier
    try uploaded before it lost its lease or failed and was retried (that try's outputs were dropped from the
    job when it was requeued, but its files stayed). Hidden files (a `.part` still being received, an
    atomic write's temp file) are left to their writer and the temp-file sweep. Returns the names removed."""
    removed: list[str] = []
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return removed
    for entry in entries:
        if entry.name.startswith(".") or entry.name in kept or not entry.is_file(follow_symlinks=False):
            continue
        try:
            os.unlink(entry.path)
        except FileNotFoundError:
            continue  # removed meanwhile by another completion's tidy-up
        removed.append(entry.name)
    if removed:
        logger.info(
            "farm: removed files of earlier tries", extra={"folder": str(folder), "files": removed[:20]}
        )
    return removed


def add_outputs(session: Session, job: Job, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    known = {o["name"] for o in job.outputs}
    job.outputs = [*job.outputs, *(e for e in entries if e["name"] not in known)]
    session.commit()
    return job.outputs


def complete(uow: UnitOfWork, job_id: uuid.UUID, body: JobComplete, publish: Publisher | None = None) -> Any:
    """Mark the job done. A shot job's result is the version the agent named, or else its uploaded outputs
    published by `publish`."""
    session = uow.session
    job = get_job(session, job_id)
    if job.status == "succeeded" and job.result.get("lease_id") == body.lease_id:
        return job_out(session, job)  # the answer to an earlier, identical completion was lost
    job = leased(session, job_id, body.lease_id)
    values: dict[str, Any] = {
        "status": "succeeded",
        "finished_at": utcnow(),
        "progress": 1.0,
        "gpu_seconds": body.gpu_seconds,
        "lease_expires_at": None,
        "result": {"lease_id": body.lease_id, "provenance": body.provenance},
    }
    if job.shot_id is not None and job.output_stage:
        if body.version_id is None and job.outputs and publish is not None:
            snapshot = SimpleNamespace(**{c.key: getattr(job, c.key) for c in Job.__table__.columns})
            # Publishing takes its own write turn (SQLite has one writer): give ours back meanwhile.
            session.rollback()
            values["version_id"] = publish(snapshot, {**body.provenance, "gpu_seconds": body.gpu_seconds})  # type: ignore[arg-type]
            job = leased(session, job_id, body.lease_id)
        else:
            version = session.get(Version, body.version_id) if body.version_id else None
            if version is None or version.shot_id != job.shot_id:
                raise Unprocessable(
                    "a shot job completes with its outputs or the version it published for that shot",
                    field="version_id",
                )
            values["version_id"] = version.id
    elif not job.outputs and job.type not in ("playblast",):
        raise Unprocessable("upload the job's outputs before completing it", field="outputs")
    out = resources.update(uow, _res(session), job, values, job.revision, commit=False)
    failures.agent_idle(session, job.agent_id)
    if job.project_id is not None and body.gpu_seconds:
        budget.warn_after_job(uow, job.project_id, job.id)
    uow.commit()
    return out


def fail(uow: UnitOfWork, settings: Settings, job_id: uuid.UUID, body: JobFail) -> Any:
    """The agent's report of a failure the job raised; its kind says what happens next (failures.py)."""
    session = uow.session
    job = leased(session, job_id, body.lease_id)
    kind = body.kind or ("agent" if body.retryable else "input")
    out = failures.blame(uow, settings, job, body.error, kind, lambda j: job_out(session, j))
    uow.commit()
    return out


def requeue_lost(uow: UnitOfWork, job: Job, why: str) -> Any:
    """A lease that expired or an agent that restarted: back in the queue at once, nobody blamed."""
    session = uow.session
    failures.agent_idle(session, job.agent_id)
    return failures.lease_lost(uow, job, why, lambda j: job_out(session, j))


def release(uow: UnitOfWork, job_id: uuid.UUID, lease_id: str) -> Any:
    """Give the job back without blame; a cancelled job ends cancelled, others are offered again at once."""
    session = uow.session
    job = leased(session, job_id, lease_id)
    values: dict[str, Any] = {
        "lease_id": None,
        "lease_expires_at": None,
        "agent_id": None,
        "progress": 0.0,
        "stage_text": "",
    }
    if job.cancel_requested:
        values.update(status="cancelled", finished_at=utcnow())
    else:
        values.update(status="queued", not_before=None, outputs=[])
    failures.agent_idle(session, job.agent_id)
    out = resources.update(uow, _res(session), job, values, job.revision, commit=False)
    if job.cancel_requested:
        failures.fail_children(uow, job, "was cancelled", lambda j: job_out(session, j))
    uow.commit()
    return out


def grant_restart_grace(session: Session, settings: Settings) -> int:
    """At server start: every running job's lease lasts at least one more lease period. While no server
    answered, agents could not renew their leases; a server restart is nobody's failure, so the work in
    progress is not taken from them (docs/agent-protocol.md, Job states). Returns how many were extended."""
    until = utcnow() + timedelta(seconds=settings.farm_lease_s)
    result = session.execute(
        update(Job)
        .where(Job.status == "running", Job.lease_expires_at < until)
        .values(lease_expires_at=until)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return result.rowcount or 0


def expire_leases(uow: UnitOfWork, settings: Settings) -> int:
    """Requeue every running job whose lease ran out, and fail (or retry) those past their timeout. The farm's
    sweeper calls it every few seconds (not each claim: it reads every running job); it reads four columns
    of the running jobs and loads only the lost ones. A requeue is an event, so waiting agents wake.
    A lease counts as run out `2 × farm_lease_flush_s` after its time: a renewal another server process
    answered but has not written yet lands first (renewals.py; this process's own are flushed before)."""
    now = utcnow()
    grace = timedelta(seconds=2 * settings.farm_lease_flush_s)
    lost: dict[uuid.UUID, str] = {}
    rows = uow.session.execute(
        select(Job.id, Job.started_at, Job.timeout_s, Job.lease_expires_at).where(Job.status == "running")
    )
    timed_out: set[uuid.UUID] = set()
    for job_id, started_at, timeout_s, lease_expires_at in rows:
        if started_at is not None and started_at + timedelta(seconds=timeout_s) < now:
            lost[job_id] = f"ran longer than its timeout of {timeout_s} s"
            timed_out.add(job_id)
        elif lease_expires_at is not None and lease_expires_at + grace < now:
            lost[job_id] = f"not renewed within {settings.farm_lease_s} s"
    for job_id, why in lost.items():
        job = uow.session.get(Job, job_id, populate_existing=True, with_for_update=True)
        if job is None or job.status != "running":
            continue
        renewed = job.lease_expires_at is not None and job.lease_expires_at + grace >= now
        if job_id not in timed_out and renewed:
            continue  # renewed since the first read
        # Its agent is told at the next heartbeat (lease lost). Running too long is the job's own doing;
        # a lease that was not renewed is not (the agent died, or the network or the server was away).
        if job_id in timed_out:
            failures.blame(uow, settings, job, why, "node", lambda j: job_out(uow.session, j))
        else:
            requeue_lost(uow, job, why)
    if lost:
        uow.commit()
    return len(lost)
