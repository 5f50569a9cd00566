"""Scenario breakdown drafts and versioned prompt templates.

Registered on `Base` by the import at the end of `models.py`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, IdMixin, RevisionMixin, TimestampMixin, utcnow
from .types import JsonType

DRAFT_STATUSES = ("draft", "applied", "discarded")


class PromptTemplate(IdMixin, Base):
    """One version of a named prompt template (e.g. the breakdown system prompt). Versions are never
    changed: an edit adds the next version, and every result names the version it used."""

    __tablename__ = "prompt_templates"
    __table_args__ = (UniqueConstraint("name", "version"),)

    name: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class BreakdownDraft(IdMixin, TimestampMixin, RevisionMixin, Base):
    """A scenario broken down into characters, environments, scenes and shots, waiting for a person.

    `content` holds the items with stable temporary ids (`CHR-001`, `ENV-001`, `SCN-001`, `SHT-001-01`)
    and each item's decision; nothing in the project changes until the draft is applied.
    """

    __tablename__ = "breakdown_drafts"
    __table_args__ = (CheckConstraint("status IN ('draft', 'applied', 'discarded')", name="status"),)

    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    source_name: Mapped[str] = mapped_column(String(255), default="")
    source_format: Mapped[str] = mapped_column(String(20))
    source_text: Mapped[str] = mapped_column(Text)
    source_sha256: Mapped[str] = mapped_column(String(64))
    engine: Mapped[str] = mapped_column(String(20))
    engine_detail: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    template_name: Mapped[str | None] = mapped_column(String(100), default=None)
    template_version: Mapped[int | None] = mapped_column(Integer, default=None)
    content: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    warnings: Mapped[list[str]] = mapped_column(JsonType, default=list)
    result: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    applied_by: Mapped[str] = mapped_column(String(200), default="")
    applied_at: Mapped[datetime | None] = mapped_column(default=None)
