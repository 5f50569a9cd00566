"""Delivery: a conform of the edit and the masters made from it, by farm `conform` and `master` jobs.

Registered on `Base` by the import at the top of `models.py`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, IdMixin, TimestampMixin
from .types import JsonType, in_list

DELIVERY_STATUSES = ("queued", "running", "succeeded", "failed")


class Delivery(IdMixin, TimestampMixin, Base):
    """One delivery of a project's edit: `delivery/vNNN/` holds its conform and its masters.

    `options` is what was asked (formats, audio codec, range, slate, burn-ins); `plan` the shots in edit
    order with the media, cut range and sound each used; `conform` the conform file once made (with the
    segments it encoded and reused); `masters` one entry per format with its job, file and probe.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("project_id", "number"),
        CheckConstraint(in_list("status", DELIVERY_STATUSES), name="status"),
        CheckConstraint("number > 0", name="number_positive"),
    )

    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    path: Mapped[str] = mapped_column(String(1024))  # the folder, relative to the storage root
    conform_job_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("jobs.id", ondelete="SET NULL"), index=True, default=None
    )
    options: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    plan: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list)
    conform: Mapped[dict[str, Any] | None] = mapped_column(JsonType, default=None)
    masters: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list)
    frames: Mapped[int] = mapped_column(Integer, default=0)  # the edit's length
    shots: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(200), default="")
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
