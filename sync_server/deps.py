"""Shared FastAPI dependencies: the app's services, the caller, sessions and units of work."""

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Header, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from .auth.key_cache import ApiKeyCache
from .auth.passwords import Passwords
from .auth.permissions import Permission
from .auth.tokens import TokenError, Tokens, hash_api_key, is_api_key
from .cache import ResponseCache
from .context import Principal, UnitOfWork
from .crud import ListParams
from .db.engine import Database
from .db.models import ApiKey, User
from .errors import Forbidden, Unauthorized, Unprocessable
from .events import EventHub
from .metrics import Metrics
from .settings import Settings

if TYPE_CHECKING:  # storage.meta imports the catalog routes, which import this module
    from .farm.dispatch import ClaimDispatcher
    from .storage.meta import MetaWriter

API_KEY_TOUCH_INTERVAL = timedelta(minutes=1)


@dataclass
class Services:
    """Everything the app factory builds; stored on `app.state.services`, never in a module global."""

    settings: Settings
    db: Database
    passwords: Passwords
    tokens: Tokens
    hub: EventHub
    metrics: Metrics
    meta: "MetaWriter"
    responses: ResponseCache
    shot_fragments: ResponseCache
    claims: "ClaimDispatcher"
    api_keys: ApiKeyCache


def get_services(conn: HTTPConnection) -> Services:
    return conn.app.state.services


async def _services(conn: HTTPConnection) -> Services:
    # Dependencies that do no I/O are async: a plain `def` would cost a worker-thread round trip each.
    return conn.app.state.services


ServicesDep = Annotated[Services, Depends(_services)]

bearer = HTTPBearer(auto_error=False, description="An access token from /api/auth/login, or an API key.")


def cached_principal(services: Services, token: str) -> Principal | None:
    """The principal of a recently used API key, without touching the database."""
    return services.api_keys.get(hash_api_key(token)) if is_api_key(token) else None


def authenticate(services: Services, token: str) -> Principal:
    """Resolve a bearer token (JWT access token or API key) to a principal, or raise 401."""
    cached = cached_principal(services, token)
    if cached is not None:
        return cached
    with services.db.read_sessions() as session:
        if is_api_key(token):
            digest = hash_api_key(token)
            key = session.scalar(select(ApiKey).where(ApiKey.key_hash == digest))
            if key is None or key.revoked_at is not None:
                raise Unauthorized("Unknown or revoked API key.", headers={"WWW-Authenticate": "Bearer"})
            now = datetime.now(UTC)
            last = key.last_used_at
            if last is None or now - last.replace(tzinfo=last.tzinfo or UTC) > API_KEY_TOUCH_INTERVAL:
                with services.db.write_sessions() as write, write.begin():
                    write.execute(update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=now))
            principal = Principal(id=key.id, name=key.name, kind="api_key", role=key.role)
            services.api_keys.put(digest, principal)
            return principal
        try:
            claims = services.tokens.decode(token, "access")
        except TokenError as exc:
            raise Unauthorized(
                f"Bearer token rejected: {exc}.", headers={"WWW-Authenticate": "Bearer"}
            ) from exc
        try:
            user_id = uuid.UUID(claims["sub"])
        except ValueError as exc:
            raise Unauthorized("Bearer token rejected: bad subject.") from exc
        user = session.get(User, user_id)
        if user is None or not user.active:
            raise Unauthorized("This account is disabled or no longer exists.")
        return Principal(id=user.id, name=user.username, kind="user", role=user.role)


async def get_principal(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized(
            "Authentication required: send 'Authorization: Bearer <token or API key>'.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    # An agent's frequent calls are answered from the cache without a worker thread.
    cached = cached_principal(services, credentials.credentials)
    if cached is not None:
        return cached
    return await run_in_threadpool(authenticate, services, credentials.credentials)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require(*permissions: Permission) -> Callable[..., Principal]:
    """Dependency: the caller must hold every listed permission."""

    async def check(principal: PrincipalDep) -> Principal:
        missing = [p.value for p in permissions if not principal.can(p)]
        if missing:
            raise Forbidden(
                f"Role '{principal.role}' may not do this (needs {', '.join(missing)}).",
                required=missing,
                role=principal.role,
            )
        return principal

    return check


def get_read_session(services: ServicesDep) -> Iterator[Session]:
    with services.db.read_sessions() as session:
        yield session


ReadSession = Annotated[Session, Depends(get_read_session)]


def client_addr(request: Request) -> str | None:
    return request.client.host if request.client else None


def require_any(*permissions: Permission) -> Callable[..., Principal]:
    """Dependency: the caller must hold at least one of the listed permissions."""

    async def check(principal: PrincipalDep) -> Principal:
        if not any(principal.can(p) for p in permissions):
            needed = [p.value for p in permissions]
            raise Forbidden(
                f"Role '{principal.role}' may not do this (needs {' or '.join(needed)}).",
                required=needed,
                role=principal.role,
            )
        return principal

    return check


def _uow_dependency(checker: Callable[..., Principal]) -> Callable[..., Iterator[UnitOfWork]]:
    def make(
        request: Request,
        services: ServicesDep,
        principal: Annotated[Principal, Depends(checker)],
    ) -> Iterator[UnitOfWork]:
        with services.db.write_sessions() as session:
            yield UnitOfWork(
                session=session,
                hub=services.hub,
                actor=principal,
                request_id=getattr(request.state, "request_id", None),
                remote_addr=client_addr(request),
            )

    return make


def uow_for(*permissions: Permission) -> Callable[..., Iterator[UnitOfWork]]:
    """Dependency: a write unit of work for a caller holding every one of `permissions`."""
    return _uow_dependency(require(*permissions))


def uow_for_any(*permissions: Permission) -> Callable[..., Iterator[UnitOfWork]]:
    """Dependency: a write unit of work for a caller holding at least one of `permissions`."""
    return _uow_dependency(require_any(*permissions))


# -- request parameters shared by many routes ---------------------------------------------------------
_ETAG = re.compile(r'^(?:W/)?"?(\d{1,18})"?$')  # int() of thousands of digits would raise


def list_params(
    services: ServicesDep,
    limit: Annotated[int | None, Query(ge=1, description="Page size (default from settings).")] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    sort: Annotated[str | None, Query(description="Comma-separated fields; '-' for descending.")] = None,
) -> ListParams:
    maximum = services.settings.page_size_max
    if limit is not None and limit > maximum:
        raise Unprocessable(f"limit must be at most {maximum}", field="limit")
    fields = [part.strip() for part in sort.split(",") if part.strip()] if sort else []
    return ListParams(limit or services.settings.page_size_default, offset, fields)


ListParamsDep = Annotated[ListParams, Depends(list_params)]


def if_match_header(
    if_match: Annotated[str | None, Header(description='Revision as an ETag, e.g. "3".')] = None,
) -> int | None:
    if if_match is None:
        return None
    found = _ETAG.match(if_match.strip())
    if not found:
        raise Unprocessable(
            f'If-Match must be a revision number like "3", not {if_match!r}', field="If-Match"
        )
    return int(found.group(1))


IfMatch = Annotated[int | None, Depends(if_match_header)]
