"""User and API-key bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from aipipe_shared.vocabulary import Role

from ..auth.passwords import MIN_PASSWORD_LENGTH
from ..schemas import Input, Name, Output, Patch, ShortText

Username = Annotated[str, StringConstraints(pattern=r"^[\w][\w.@-]{0,63}$")]
Password = Annotated[str, StringConstraints(min_length=MIN_PASSWORD_LENGTH, max_length=1024)]


class UserCreate(Input):
    username: Username
    password: Password
    role: Role
    display_name: ShortText = ""


class UserUpdate(Patch):
    display_name: ShortText | None = None
    role: Role | None = None
    active: bool | None = None
    password: Password | None = None


class PasswordChange(Input):
    current_password: Annotated[str, StringConstraints(max_length=1024)]
    new_password: Password


class UserOut(Output):
    id: uuid.UUID
    username: str
    display_name: str
    role: Role
    active: bool
    last_login_at: datetime | None
    revision: int
    created_at: datetime
    updated_at: datetime


class ApiKeyCreate(Input):
    name: Name
    role: Role


class ApiKeyOut(Output):
    id: uuid.UUID
    name: str
    role: Role
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="Shown once; only its hash is kept.")


class WhoAmI(Output):
    """Who a request acts as: a user account or an API key, by name and role."""

    kind: Literal["user", "api_key"]
    id: uuid.UUID
    name: str
    role: Role
