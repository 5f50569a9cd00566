"""Breakdown request and response bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from ..schemas import Input, Output, Patch, ShortText
from .draft import Decision, DraftContent, DraftSubject, Seconds, Short, Text, Words
from .formats import FormatChoice

ScriptText = Annotated[str, StringConstraints(min_length=1, max_length=1_500_000)]
EngineChoice = Literal["auto", "parser", "llm"]


class BreakdownCreate(Input):
    text: ScriptText = Field(description="The scenario: Fountain, Korean screenplay or free prose.")
    format: FormatChoice = Field(default="auto", description="Default: recognised from the text.")
    engine: EngineChoice = Field(
        default="auto",
        description="parser (no model), llm, or auto: the parser for scripts, the LLM for prose.",
    )
    source_name: ShortText = Field(default="", description="File name, shown in the draft list.")


class ItemUpdate(Patch):
    """Fields of one draft item; only those of the item's kind are accepted."""

    decision: Decision | None = None
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    aliases: Words | None = None
    description: Text | None = None
    clothing: Words | None = None
    role: Short | None = None
    location: Text | None = None
    time_of_day: Short | None = None
    weather: Short | None = None
    mood: Short | None = None
    prompt: Text | None = None
    number: Short | None = None
    heading: Short | None = None
    environment_ref: str | None = None
    scene_ref: str | None = None
    action: Text | None = None
    dialogue: Text | None = None
    subjects: Annotated[list[DraftSubject], Field(max_length=50)] | None = None
    suggested_camera: Short | None = None
    preset: Short | None = None
    camera_notes: Text | None = None
    duration_s: Seconds | None = None


class ApplyBody(Input):
    revision: int = Field(ge=1, description="The draft revision you reviewed.")


class DiscardBody(Input):
    revision: int = Field(ge=1)


class Match(Output):
    id: uuid.UUID
    name: str


class DraftOut(Output):
    id: uuid.UUID
    project_id: uuid.UUID
    status: str
    source_name: str
    source_format: str
    source_sha256: str
    engine: str
    engine_detail: dict[str, Any]
    template_name: str | None
    template_version: int | None
    content: DraftContent
    matches: dict[str, Match] = Field(
        default_factory=dict,
        description="Draft characters/environments that will merge into existing ones, by temporary id.",
    )
    warnings: list[str]
    result: dict[str, Any]
    created_by: str
    applied_by: str
    applied_at: datetime | None
    revision: int
    created_at: datetime
    updated_at: datetime


class DraftSummary(Output):
    id: uuid.UUID
    project_id: uuid.UUID
    status: str
    source_name: str
    source_format: str
    engine: str
    template_version: int | None
    created_by: str
    revision: int
    created_at: datetime


class TemplateCreate(Input):
    name: Literal["breakdown.system", "breakdown.user"]
    body: Annotated[str, StringConstraints(min_length=1, max_length=50000)]
    note: ShortText = ""


class TemplateOut(Output):
    id: uuid.UUID
    name: str
    version: int
    body: str
    note: str
    created_by: str
    created_at: datetime
