"""The dailies clock: at AIPIPE_DAILIES_AT (studio time) each day, queue that day's dailies for every
project that gets them. It runs in every server replica; the unique key on (project, scheduled_day) lets
only the first one queue a project's day, the others skip it. The same pass brings unfinished dailies up
to date with their jobs (in case the job's events were missed, e.g. while this server was down)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..context import SYSTEM, UnitOfWork
from ..db.base import utcnow
from ..db.models import Job, Project
from ..db.models_dailies import Dailies
from ..deps import Services
from ..settings import Settings
from . import service

logger = logging.getLogger(__name__)


def due_day(settings: Settings, now: datetime) -> date | None:
    """The studio day whose dailies are due at `now` (its AIPIPE_DAILIES_AT has passed); None: none yet."""
    if not settings.dailies_at:
        return None
    local = now.astimezone(ZoneInfo(settings.timezone))
    hours, minutes = (int(part) for part in settings.dailies_at.split(":"))
    return local.date() if local.time() >= time(hours, minutes) else None


def _projects(services: Services, day: date) -> list[uuid.UUID]:
    """The projects that get scheduled dailies and have none for `day` yet."""
    settings = services.settings
    with services.db.read_sessions() as session:
        stmt = select(Project.id).where(Project.archived.is_(False))
        if settings.dailies_projects:
            codes = [code.lower() for code in settings.dailies_projects]
            stmt = stmt.where(func.lower(Project.code).in_(codes))
        done = select(Dailies.project_id).where(Dailies.scheduled_day == day)
        return list(session.scalars(stmt.where(Project.id.not_in(done)).order_by(Project.code)))


def _unsettled(services: Services) -> list[uuid.UUID]:
    """Dailies whose job has moved on (running, finished, or retried after a failure) or is gone."""
    with services.db.read_sessions() as session:
        rows = session.execute(
            select(Dailies.id, Dailies.status, Job.status)
            .outerjoin(Job, Job.id == Dailies.job_id)
            .where(Dailies.status.in_(("queued", "running", "failed")))
        ).all()
    finished = ("failed", "cancelled")
    return [
        dailies_id
        for dailies_id, status, job_status in rows
        if (status == "queued" and job_status != "queued")
        or (status == "running" and job_status != "running")
        or (status == "failed" and job_status is not None and job_status not in finished)
    ]


def tick(services: Services, now: datetime | None = None) -> list[uuid.UUID]:
    """One pass (blocking: run it in a worker thread); returns the ids of the dailies it queued."""
    for dailies_id in _unsettled(services):
        service.settle(services.db, services.hub, services.settings, dailies_id)
    day = due_day(services.settings, now or utcnow())
    if day is None:
        return []
    made: list[uuid.UUID] = []
    for project_id in _projects(services, day):
        with services.db.write_sessions() as session:
            project = session.get(Project, project_id)
            if project is None:
                continue
            uow = UnitOfWork(session=session, hub=services.hub, actor=SYSTEM)
            try:
                dailies = service.make(uow, services.settings, project, day, scheduled=True)
            except IntegrityError:
                session.rollback()
                logger.info("dailies of %s for %s were queued by another server", project.code, day)
                continue
            made.append(dailies.id)
            logger.info(
                "dailies of %s for %s queued (%s, %d versions)",
                project.code,
                day,
                dailies.status,
                len(dailies.clips),
            )
    return made


async def run_forever(services: Services) -> None:
    """`tick` every AIPIPE_DAILIES_CHECK_S in a worker thread; an error is logged and the clock goes on."""
    while True:
        try:
            await asyncio.to_thread(tick, services)
        except Exception:
            logger.exception("dailies: the scheduled pass failed; will try again")
        await asyncio.sleep(services.settings.dailies_check_s)
