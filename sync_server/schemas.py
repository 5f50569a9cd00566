"""Pydantic building blocks shared by every resource: strict input, pages, revisions."""

from __future__ import annotations

import uuid
from typing import Annotated, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, StringConstraints

from aipipe_shared.naming import PathOutsideRootError, is_safe_component, safe_component, split_relative

T = TypeVar("T")

# JSON has no UUID type: ids arrive as strings even in strict input models.
Id = Annotated[uuid.UUID, Strict(False)]

Code = Annotated[str, StringConstraints(pattern=r"^[\w][\w.-]{0,63}$")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
LongText = Annotated[str, StringConstraints(max_length=20000)]
ShortText = Annotated[str, StringConstraints(max_length=200)]
WorkflowName = Annotated[str, StringConstraints(pattern=r"^[\w][\w.-]{0,199}$")]
RecipeName = Annotated[str, StringConstraints(pattern=r"^[\w][\w.-]{0,99}$")]  # sync_server/recipes


def _inside_storage(value: str) -> str:
    try:
        split_relative(value)
    except PathOutsideRootError as exc:
        raise ValueError(str(exc)) from exc
    return value


def _one_safe_name(value: str) -> str:
    if not is_safe_component(value):
        raise ValueError(f"{value!r} is not a safe folder name (try {safe_component(value)!r})")
    return value


# A path relative to the storage root: absolute paths, drive letters and '..' are refused.
PathText = Annotated[str, StringConstraints(max_length=1024), AfterValidator(_inside_storage)]
# One folder name that is safe on Windows, macOS and Linux.
FolderName = Annotated[str, StringConstraints(min_length=1, max_length=255), AfterValidator(_one_safe_name)]


class Input(BaseModel):
    """Request bodies: unknown fields and wrong types are refused, never coerced or dropped."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Patch(Input):
    """A partial update; `revision` may come here or in an If-Match header."""

    revision: int | None = Field(default=None, ge=1, description="The revision this edit is based on.")


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int
