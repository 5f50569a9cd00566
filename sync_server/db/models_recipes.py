"""Render recipes (issue 17): named, versioned chains of farm steps per project. A recipe's versions are
never edited: a change is a new version, so the jobs that ran one always name what they ran.

Registered on `Base` by the import at the top of `models.py`.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, IdMixin, TimestampMixin
from .types import JsonType


class RenderRecipe(IdMixin, TimestampMixin, Base):
    """One version of a recipe: its steps (workflow or CPU job type, parameters, output stage, fps factor)."""

    __tablename__ = "render_recipes"
    __table_args__ = (
        UniqueConstraint("project_id", "name", "version"),
        CheckConstraint("version > 0", name="version_positive"),
    )

    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text, default="")
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list)
    created_by: Mapped[str] = mapped_column(String(200), default="")
