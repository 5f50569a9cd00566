"""Camera solutions stored on image versions (issue 15): one per version, so every artist gets one camera.

Registered on `Base` by the import at the top of `models.py`.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, IdMixin, TimestampMixin
from .types import JsonType

SOLUTION_SOURCES = ("solve", "fspy")


class CameraSolutionRecord(IdMixin, TimestampMixin, Base):
    """The camera of one image version: how it was made (`source`: solved from the picture with `inputs`
    held fixed, or imported from an fSpy project), the solver's version and the solution itself."""

    __tablename__ = "camera_solutions"
    __table_args__ = (CheckConstraint("source IN ('solve', 'fspy')", name="source"),)

    version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("versions.id", ondelete="CASCADE"), unique=True)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(20))
    solver_version: Mapped[str] = mapped_column(String(100))
    image_sha256: Mapped[str] = mapped_column(String(64))  # the picture the camera belongs to
    inputs: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    result: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    created_by: Mapped[str] = mapped_column(String(200), default="")
