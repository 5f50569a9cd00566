"""Login and token bodies."""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import StringConstraints

from ..schemas import Input, Output

Secret = Annotated[str, StringConstraints(min_length=1, max_length=4096)]


class LoginBody(Input):
    username: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class RefreshBody(Input):
    refresh_token: Secret


class TokenUser(Output):
    id: uuid.UUID
    username: str
    display_name: str
    role: str


class TokenPair(Output):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int
    refresh_expires_in: int
    user: TokenUser
