"""/api/users, /api/users/me, /api/whoami and /api/api-keys"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status
from sqlalchemy import or_, select

from ..auth.permissions import Permission as P
from ..context import UnitOfWork
from ..crud import expected_revision, get_or_404, paginate
from ..db.models import ApiKey, User
from ..deps import IfMatch, ListParamsDep, PrincipalDep, ReadSession, ServicesDep, require, uow_for
from ..errors import NotFound
from ..schemas import Page
from . import service
from .schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    PasswordChange,
    UserCreate,
    UserOut,
    UserUpdate,
    WhoAmI,
)

router = APIRouter(tags=["users"])
AdminRead = Depends(require(P.USER_ADMIN))
AdminWrite = Annotated[UnitOfWork, Depends(uow_for(P.USER_ADMIN))]
AnyUser = Annotated[UnitOfWork, Depends(uow_for())]


@router.get("/users/me", response_model=UserOut, operation_id="get_me")
def get_me(principal: PrincipalDep, session: ReadSession) -> UserOut:
    user = session.get(User, principal.id)
    if user is None:
        raise NotFound("This is an API key, not a user account.", field="Authorization")
    return UserOut.model_validate(user)


@router.get("/whoami", response_model=WhoAmI, operation_id="whoami")
def whoami(principal: PrincipalDep) -> WhoAmI:
    """The account or API key the request's credentials belong to (an API key has no /users/me)."""
    kind = "api_key" if principal.kind == "api_key" else "user"
    return WhoAmI(kind=kind, id=principal.id, name=principal.name, role=principal.role)


@router.post("/users/me/password", status_code=status.HTTP_204_NO_CONTENT, operation_id="change_my_password")
def change_my_password(body: PasswordChange, uow: AnyUser, services: ServicesDep) -> Response:
    service.change_own_password(uow, services.passwords, body)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/users", response_model=Page[UserOut], dependencies=[AdminRead], operation_id="list_users")
def list_users(
    session: ReadSession, params: ListParamsDep, q: str | None = None, active: bool | None = None
) -> dict:
    stmt = select(User)
    if q:
        stmt = stmt.where(or_(User.username.ilike(f"%{q}%"), User.display_name.ilike(f"%{q}%")))
    if active is not None:
        stmt = stmt.where(User.active == active)
    sortable = {"username": User.username, "role": User.role, "created_at": User.created_at}
    return paginate(session, stmt, params, sortable, ["username"], UserOut.model_validate)


@router.post(
    "/users", response_model=UserOut, status_code=status.HTTP_201_CREATED, operation_id="create_user"
)
def create_user(body: UserCreate, uow: AdminWrite, services: ServicesDep) -> UserOut:
    return service.create_user(uow, services.passwords, body)


@router.get("/users/{user_id}", response_model=UserOut, dependencies=[AdminRead], operation_id="get_user")
def get_user(user_id: uuid.UUID, session: ReadSession) -> UserOut:
    return UserOut.model_validate(get_or_404(session, User, user_id, "user"))


@router.patch("/users/{user_id}", response_model=UserOut, operation_id="update_user")
def update_user(
    user_id: uuid.UUID, body: UserUpdate, uow: AdminWrite, services: ServicesDep, if_match: IfMatch
) -> UserOut:
    return service.update_user(
        uow, services.passwords, user_id, body, expected_revision(body.revision, if_match)
    )


@router.get(
    "/api-keys", response_model=Page[ApiKeyOut], dependencies=[AdminRead], operation_id="list_api_keys"
)
def list_api_keys(
    session: ReadSession, params: ListParamsDep, revoked: Annotated[bool | None, Query()] = None
) -> dict:
    stmt = select(ApiKey)
    if revoked is not None:
        stmt = stmt.where(ApiKey.revoked_at.is_not(None) if revoked else ApiKey.revoked_at.is_(None))
    sortable = {"name": ApiKey.name, "created_at": ApiKey.created_at}
    return paginate(session, stmt, params, sortable, ["name"], ApiKeyOut.model_validate)


@router.post(
    "/api-keys",
    response_model=ApiKeyCreated,
    status_code=status.HTTP_201_CREATED,
    operation_id="create_api_key",
)
def create_api_key(body: ApiKeyCreate, uow: AdminWrite) -> ApiKeyCreated:
    return service.create_api_key(uow, body)


@router.delete("/api-keys/{key_id}", response_model=ApiKeyOut, operation_id="revoke_api_key")
def revoke_api_key(key_id: uuid.UUID, uow: AdminWrite, services: ServicesDep) -> ApiKeyOut:
    revoked = service.revoke_api_key(uow, key_id)
    services.api_keys.clear()  # here at once; other server processes clear theirs on the event
    return revoked
