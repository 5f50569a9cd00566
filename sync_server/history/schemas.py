"""Change history response bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from ..schemas import Input, Output


class ChangeItemOut(Output):
    entity: str
    entity_id: str
    label: str
    action: Literal["created", "updated", "deleted"]
    revision_before: int | None
    revision_after: int | None
    changes: dict[str, Any] = Field(description="{field: [before, after]} of an update.")


class ChangeSetOut(Output):
    id: int
    project_id: uuid.UUID
    at: datetime
    actor_name: str
    kind: Literal["edit", "undo", "redo"]
    label: str
    state: Literal["applied", "undone"]
    target_id: int | None
    items: list[ChangeItemOut]


class UndoBody(Input):
    mine: bool = Field(default=False, description="Undo (or redo) only your own edits.")


class UndoResult(Output):
    target: ChangeSetOut = Field(description="The change set that was undone or redone.")
    change_set: ChangeSetOut = Field(description="The edits the undo or redo made, as a change set.")
