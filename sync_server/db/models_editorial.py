"""Editorial: proxy movie renders and their per-shot segments.

Registered on `Base` by the import at the end of `models.py`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, IdMixin, TimestampMixin
from .types import JsonType

PROXY_STATUSES = ("queued", "running", "succeeded", "failed")


class ProxyRender(IdMixin, TimestampMixin, Base):
    """One proxy movie of a project's edit: `edit/proxy/vNNN/`, made by a background job on the server.

    `segments` lists each shot's cached segment (shot, frames, cache key, whether this render encoded it);
    `encoded` counts the segments this render had to encode, `reused` those it joined from the cache.
    """

    __tablename__ = "proxy_renders"
    __table_args__ = (
        UniqueConstraint("project_id", "number"),
        CheckConstraint("status IN ('queued', 'running', 'succeeded', 'failed')", name="status"),
        CheckConstraint("number > 0", name="number_positive"),
    )

    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    path: Mapped[str] = mapped_column(String(1024))  # the movie, relative to the storage root
    fps: Mapped[str] = mapped_column(String(20))  # exact: "24000/1001"
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    frames: Mapped[int] = mapped_column(Integer, default=0)  # the edit's length
    shots: Mapped[int] = mapped_column(Integer, default=0)
    encoded: Mapped[int] = mapped_column(Integer, default=0)
    reused: Mapped[int] = mapped_column(Integer, default=0)
    segments: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list)
    # What the movie shows (`proxy.edit_key`): a request for an edit of the same key gets this render again.
    # None: an empty edit, or a render made before the key was kept (never reused).
    edit_key: Mapped[str | None] = mapped_column(String(64), default=None)
    error: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(200), default="")
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    # Written every few seconds by the server process that holds the render while it is queued or running
    # (`ProxyJobs`): another process reuses it only while this is fresh. None: no process holds it.
    heartbeat_at: Mapped[datetime | None] = mapped_column(default=None)
    # The server process holding it (`editorial.holder`): another process of the same machine tells at once
    # that it is gone, without waiting for the heartbeat to go stale. None or "": not known.
    holder: Mapped[str | None] = mapped_column(String(300), default=None)
