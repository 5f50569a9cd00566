"""Characters: description, clothing options, LoRA and reference images."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field
from sqlalchemy import select

from .. import resources
from ..auth.permissions import Permission
from ..context import UnitOfWork
from ..db.models import Character, Shot, ShotSubject
from ..errors import Conflict
from ..project_children import ChildSpec
from ..schemas import Input, LongText, Name, Output, Patch, PathText, ShortText

Strength = Annotated[float, Field(ge=-10.0, le=10.0)]
Words = Annotated[list[ShortText], Field(max_length=100)]
Paths = Annotated[list[PathText], Field(max_length=200)]


class CharacterCreate(Input):
    name: Name
    aliases: Words = []
    description: LongText = ""
    clothing_options: Words = []
    lora_file: PathText | None = None
    trigger_words: Words = []
    lora_strength: Strength = 1.0
    reference_images: Paths = []


class CharacterUpdate(Patch):
    name: Name | None = None
    aliases: Words | None = None
    description: LongText | None = None
    clothing_options: Words | None = None
    lora_file: PathText | None = None
    trigger_words: Words | None = None
    lora_strength: Strength | None = None
    reference_images: Paths | None = None


class CharacterOut(Output):
    id: uuid.UUID
    project_id: uuid.UUID
    name: str
    aliases: list[str]
    description: str
    clothing_options: list[str]
    lora_file: str | None
    trigger_words: list[str]
    lora_strength: float
    reference_images: list[str]
    revision: int
    created_at: datetime
    updated_at: datetime


def _before_delete(uow: UnitOfWork, character: Character) -> None:
    codes = uow.session.scalars(
        select(Shot.code)
        .join(ShotSubject, ShotSubject.shot_id == Shot.id)
        .where(ShotSubject.character_id == character.id)
        .order_by(Shot.code)
    ).all()
    if codes:
        raise Conflict(
            f"{character.name} appears in shots {', '.join(codes[:20])}; remove them from those shots first.",
            field="id",
            shots=list(codes),
        )


CHARACTER = resources.Resource(Character, "character", CharacterOut.model_validate, unique_field="name")
CHARACTERS = ChildSpec(
    res=CHARACTER,
    plural="characters",
    create_model=CharacterCreate,
    update_model=CharacterUpdate,
    out_model=CharacterOut,
    sortable={"name": Character.name, "created_at": Character.created_at},
    default_sort=["name"],
    search_columns=[Character.name, Character.description],
    write_permission=Permission.ASSET_EDIT,
    before_delete=_before_delete,
)
