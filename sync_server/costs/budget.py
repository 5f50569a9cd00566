"""Budget warnings pushed: when a finished job takes the project's GPU time to 80 % or to 100 % of its
budget, one `project.budget_warning` event (docs/events.md) in the job's own transaction, once per level.

The level last warned of is kept on the project (`gpu_budget_warned`); a conditional UPDATE takes it, so two
jobs finishing together push one warning. Setting the budget sets it to the level the new budget is already
at (the answer shows that), so only a later crossing is pushed.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ..context import UnitOfWork
from ..db.models import Job, Project
from .schemas import Budget

WARN_AT = 0.8
HOUR = 3600.0


def budget_of(hours: float | None, used_seconds: float) -> Budget:
    used = used_seconds / HOUR
    if not hours:
        return Budget(hours=hours, used_hours=round(used, 4), fraction=None, warning=None)
    fraction = used / hours
    warning = "100%" if fraction >= 1.0 else "80%" if fraction >= WARN_AT else None
    return Budget(hours=hours, used_hours=round(used, 4), fraction=round(fraction, 4), warning=warning)


def level_of(budget: Budget) -> int:
    """The warning level the budget is at, in % (100, 80), or 0."""
    return int(budget.warning.rstrip("%")) if budget.warning else 0


def used_seconds(session: Session, project_id: uuid.UUID) -> float:
    query = select(func.coalesce(func.sum(Job.gpu_seconds), 0.0)).where(Job.project_id == project_id)
    return float(session.execute(query).scalar_one())


def warn_after_job(uow: UnitOfWork, project_id: uuid.UUID, job_id: uuid.UUID) -> Budget | None:
    """After a job's GPU time is written (not committed): push the level its project's budget reached, if it
    was not pushed already. Returns the budget when a warning was recorded."""
    session = uow.session
    columns = (Project.code, Project.gpu_budget_hours, Project.gpu_budget_warned)
    row = session.execute(select(*columns).where(Project.id == project_id)).one_or_none()
    if row is None or not row.gpu_budget_hours:
        return None
    budget = budget_of(row.gpu_budget_hours, used_seconds(session, project_id))
    level = level_of(budget)
    if level <= row.gpu_budget_warned:
        return None
    taken = session.execute(
        update(Project)
        .where(Project.id == project_id, Project.gpu_budget_warned < level)
        .values(gpu_budget_warned=level)
        .execution_options(synchronize_session=False)
    )
    if not taken.rowcount:
        return None  # another job's transaction pushed this level
    uow.record(
        "project.budget_warning",
        "project",
        project_id,
        project_id=project_id,
        data={
            "project_code": row.code,
            "job_id": str(job_id),
            "level": budget.warning,
            **budget.model_dump(),
        },
    )
    return budget
