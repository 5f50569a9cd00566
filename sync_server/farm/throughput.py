"""Jobs finished per time bucket (succeeded, failed) over the last hour and day: the dashboard's charts."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.base import utcnow
from ..db.models import Job

WINDOWS = {"hour": (timedelta(hours=1), 12), "day": (timedelta(days=1), 24)}  # span, buckets


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes (stored as UTC).
    return moment if moment.tzinfo else moment.replace(tzinfo=utcnow().tzinfo)


def throughput(session: Session, now: datetime | None = None) -> dict[str, Any]:
    """For each window, equal buckets oldest first: `{start, succeeded, failed}`; the last one ends now."""
    now = now or utcnow()
    longest = max(span for span, _ in WINDOWS.values())
    rows = session.execute(
        select(Job.finished_at, Job.status).where(
            Job.finished_at >= now - longest, Job.status.in_(("succeeded", "failed"))
        )
    ).all()
    finished = [(_aware(at), status) for at, status in rows if at is not None]
    answer: dict[str, Any] = {"now": now.isoformat()}
    for name, (span, count) in WINDOWS.items():
        step = span / count
        start = now - span
        buckets = [
            {"start": (start + step * i).isoformat(), "succeeded": 0, "failed": 0} for i in range(count)
        ]
        for at, status in finished:
            index = int((at - start) / step)
            if 0 <= index < count:
                buckets[index][status] += 1
        answer[name] = {"bucket_s": int(step.total_seconds()), "buckets": buckets}
    return answer
