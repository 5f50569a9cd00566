"""Environments: location, time of day, weather, mood and a prompt."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select

from .. import resources
from ..auth.permissions import Permission
from ..context import UnitOfWork
from ..db.models import Environment, Shot
from ..errors import Conflict
from ..project_children import ChildSpec
from ..schemas import Input, LongText, Name, Output, Patch, ShortText


class EnvironmentCreate(Input):
    name: Name
    location: LongText = ""
    time_of_day: ShortText = ""
    weather: ShortText = ""
    mood: ShortText = ""
    prompt: LongText = ""
    description: LongText = ""


class EnvironmentUpdate(Patch):
    name: Name | None = None
    location: LongText | None = None
    time_of_day: ShortText | None = None
    weather: ShortText | None = None
    mood: ShortText | None = None
    prompt: LongText | None = None
    description: LongText | None = None


class EnvironmentOut(Output):
    id: uuid.UUID
    project_id: uuid.UUID
    name: str
    location: str
    time_of_day: str
    weather: str
    mood: str
    prompt: str
    description: str
    revision: int
    created_at: datetime
    updated_at: datetime


def _before_delete(uow: UnitOfWork, environment: Environment) -> None:
    codes = uow.session.scalars(
        select(Shot.code).where(Shot.environment_id == environment.id).order_by(Shot.code)
    ).all()
    if codes:
        raise Conflict(
            f"{environment.name} is the environment of shots {', '.join(codes[:20])}; change those "
            "shots first.",
            field="id",
            shots=list(codes),
        )


ENVIRONMENT = resources.Resource(
    Environment, "environment", EnvironmentOut.model_validate, unique_field="name"
)
ENVIRONMENTS = ChildSpec(
    res=ENVIRONMENT,
    plural="environments",
    create_model=EnvironmentCreate,
    update_model=EnvironmentUpdate,
    out_model=EnvironmentOut,
    sortable={"name": Environment.name, "created_at": Environment.created_at},
    default_sort=["name"],
    search_columns=[Environment.name, Environment.location, Environment.prompt],
    write_permission=Permission.ASSET_EDIT,
    before_delete=_before_delete,
)
