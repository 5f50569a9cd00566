"""Request bodies of the layout's farm work."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from ..schemas import Id, Input, WorkflowName

Priority = Annotated[int, Field(ge=0, le=100)]  # as a farm job's


class DepthRequest(Input):
    """Queue a depth image of the shot's first frame (or of another image version of the shot)."""

    source_version_id: Id | None = Field(
        default=None, description="The picture to estimate depth from; default: the shot's first frame."
    )
    workflow: WorkflowName = Field(default="lotus_depth", description="A template of job type 'depth'.")
    priority: Priority = 50


class LayoutControl(Input):
    """A render follows the shot's layout: its depth video drives the workflow's `control_video`."""

    version_id: Id | None = Field(
        default=None,
        description="A playblast or control version of the shot holding the layout's depth video "
        "(provenance control_kind 'depth'); default: the newest approved one.",
    )
    kind: Literal["depth"] = "depth"
