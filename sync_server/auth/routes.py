"""/api/auth: login, refresh, logout."""

from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from ..context import SYSTEM, UnitOfWork
from ..deps import ServicesDep, client_addr
from ..openapi import problems
from . import service
from .schemas import LoginBody, RefreshBody, TokenPair

router = APIRouter(prefix="/auth", tags=["auth"])


def _system_uow(request: Request, services: ServicesDep) -> Iterator[UnitOfWork]:
    """Auth routes act before anyone is authenticated; the service names the actor once it knows it."""
    with services.db.write_sessions() as session:
        yield UnitOfWork(
            session=session,
            hub=services.hub,
            actor=SYSTEM,
            request_id=getattr(request.state, "request_id", None),
            remote_addr=client_addr(request),
        )


Uow = Annotated[UnitOfWork, Depends(_system_uow)]


@router.post(
    "/login",
    response_model=TokenPair,
    operation_id="login",
    responses=problems(401, 429, reasons={401: "Wrong username or password, or the account is disabled."}),
)
def login(body: LoginBody, uow: Uow, services: ServicesDep) -> TokenPair:
    """Exchange a username and password for an access token and a refresh token."""
    return service.login(
        uow, services.settings, services.passwords, services.tokens, body.username, body.password
    )


@router.post(
    "/refresh",
    response_model=TokenPair,
    operation_id="refresh_token",
    responses=problems(401, reasons={401: "The refresh token is unknown, expired or already used."}),
)
def refresh(body: RefreshBody, uow: Uow, services: ServicesDep) -> TokenPair:
    """Exchange a refresh token for a new pair (the old refresh token stops working)."""
    return service.refresh(uow, services.tokens, body.refresh_token)


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="logout",
    responses=problems(401, reasons={401: "The refresh token is not a valid one."}),
)
def logout(body: RefreshBody, uow: Uow, services: ServicesDep) -> Response:
    service.logout(uow, services.tokens, body.refresh_token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
