"""Shot list import request bodies."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from ..schemas import Input


class RowChoice(Input):
    key: str = Field(description="The row's key from the preview: the shot id, or 'row:<n>' for a new shot.")
    fields: list[str] | None = Field(
        default=None, description="Fields (column keys) to apply; default every changed field."
    )
    overwrite: list[str] = Field(
        default_factory=list, description="Conflicting fields where the file's value wins over the server's."
    )


class Selection(Input):
    rows: Annotated[list[RowChoice], Field(max_length=100_000)] | None = Field(
        default=None, description="Rows to apply; default every added and changed row (conflicts skipped)."
    )
    remove: Annotated[list[str], Field(max_length=100_000)] = Field(
        default_factory=list,
        description="Ids of shots missing from the file to delete (drafts) or omit (confirmed projects).",
    )
