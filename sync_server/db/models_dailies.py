"""Dailies: a reel of one day's versions and its contact sheet, made by a farm `dailies` job.

Registered on `Base` by the import at the top of `models.py`.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, IdMixin, TimestampMixin
from .types import JsonType, in_list

DAILIES_STATUSES = ("queued", "running", "succeeded", "failed", "empty")
DAILIES_TRIGGERS = ("scheduled", "manual")


class Dailies(IdMixin, TimestampMixin, Base):
    """One dailies of a project for one calendar day (server time zone): `export/dailies/<day>/vNNN/`.

    `scheduled_day` is the day for the run the clock queued and NULL for one asked for: the unique key on
    (project, scheduled_day) lets only one server replica queue a day's scheduled dailies. `clips` lists
    the versions in the reel's order with their slate text (and, once made, their frames in the reel);
    `files` the reel and contact sheet once the job is done. `empty`: the day had no versions.
    """

    __tablename__ = "dailies"
    __table_args__ = (
        UniqueConstraint("project_id", "day", "number"),
        UniqueConstraint("project_id", "scheduled_day"),
        CheckConstraint(in_list("status", DAILIES_STATUSES), name="status"),
        CheckConstraint(in_list("trigger", DAILIES_TRIGGERS), name="trigger"),
        CheckConstraint("number > 0", name="number_positive"),
    )

    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    day: Mapped[date] = mapped_column(Date)
    number: Mapped[int] = mapped_column(Integer)
    trigger: Mapped[str] = mapped_column(String(20))
    scheduled_day: Mapped[date | None] = mapped_column(Date, default=None)
    timezone: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="queued")
    job_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("jobs.id", ondelete="SET NULL"), index=True, default=None
    )
    path: Mapped[str] = mapped_column(String(1024))  # the folder, relative to the storage root
    clips: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list)
    files: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list)
    frames: Mapped[int] = mapped_column(Integer, default=0)  # the reel's length, once made
    error: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(200), default="")
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
