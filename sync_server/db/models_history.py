"""Change sets: every edit of a shot, scene, character or environment, grouped per transaction.

A change set is what one request did (one PATCH, one import apply, one undo); its items hold the fields
before and after, so it can be shown, undone and redone. Registered on `Base` by the import at the end of
`models.py`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow
from .types import EventIdType, JsonType

CHANGE_SET_KINDS = ("edit", "undo", "redo")
CHANGE_SET_STATES = ("applied", "undone")


class ChangeSet(Base):
    """One transaction's edits in one project: who, when, what (as items), and whether it is undone."""

    __tablename__ = "change_sets"
    __table_args__ = (
        CheckConstraint("kind IN ('edit', 'undo', 'redo')", name="kind"),
        CheckConstraint("state IN ('applied', 'undone')", name="state"),
        Index("ix_change_sets_project_state", "project_id", "state"),
    )

    id: Mapped[int] = mapped_column(EventIdType, primary_key=True, autoincrement=True)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    actor_name: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[str] = mapped_column(String(10), default="edit")
    label: Mapped[str] = mapped_column(String(200), default="")
    state: Mapped[str] = mapped_column(String(10), default="applied")
    # The change set an undo or redo acts on.
    target_id: Mapped[int | None] = mapped_column(
        ForeignKey("change_sets.id", ondelete="SET NULL"), default=None
    )
    # Order of undoing: the most recently undone change set is redone first.
    undone_seq: Mapped[int | None] = mapped_column(Integer, default=None)
    request_id: Mapped[str | None] = mapped_column(String(64), default=None)

    items: Mapped[list[ChangeItem]] = relationship(
        back_populates="change_set",
        cascade="all, delete-orphan",
        order_by="ChangeItem.id",
        lazy="selectin",
    )


class ChangeItem(Base):
    """One record's edit inside a change set: created, updated (fields before/after) or deleted."""

    __tablename__ = "change_items"
    __table_args__ = (
        CheckConstraint("action IN ('created', 'updated', 'deleted')", name="action"),
        Index("ix_change_items_entity", "entity", "entity_id"),
    )

    id: Mapped[int] = mapped_column(EventIdType, primary_key=True, autoincrement=True)
    change_set_id: Mapped[int] = mapped_column(ForeignKey("change_sets.id", ondelete="CASCADE"), index=True)
    entity: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(200), default="")  # the record's code or name, for people
    action: Mapped[str] = mapped_column(String(10))
    revision_before: Mapped[int | None] = mapped_column(Integer, default=None)
    revision_after: Mapped[int | None] = mapped_column(Integer, default=None)
    changes: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)  # {field: [before, after]}
    snapshot: Mapped[dict[str, Any] | None] = mapped_column(JsonType, default=None)  # created/deleted record

    change_set: Mapped[ChangeSet] = relationship(back_populates="items")
