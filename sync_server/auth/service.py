"""Login (rate-limited), refresh-token rotation and logout."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ..context import Principal, UnitOfWork
from ..db.models import AuditEvent, RefreshToken, User
from ..errors import TooManyRequests, Unauthorized
from ..settings import Settings
from .passwords import Passwords
from .schemas import TokenPair, TokenUser
from .tokens import TokenError, Tokens

LOGIN_FAILED = "auth.login_failed"


def _as_utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def check_rate_limit(session: Session, settings: Settings, username: str, addr: str | None) -> None:
    """Refuse a login when this user+address has failed too often within the window, or when this
    address has failed too often for any usernames (password spraying: one guess for many users)."""
    since = datetime.now(UTC) - timedelta(seconds=settings.login_window_s)
    from_addr = AuditEvent.remote_addr == addr if addr else AuditEvent.remote_addr.is_(None)
    failures = select(func.count(), func.min(AuditEvent.at)).where(
        AuditEvent.action == LOGIN_FAILED, AuditEvent.at >= since, from_addr
    )
    count, oldest = session.execute(failures.where(AuditEvent.entity_id == username.lower())).one()
    if count >= settings.login_max_failures:
        retry = _retry_after(oldest, settings.login_window_s)
        raise TooManyRequests(
            f"Too many failed logins for '{username}'; try again in {retry} s.",
            field="username",
            headers={"Retry-After": str(retry)},
        )
    count, oldest = session.execute(failures).one()
    if count >= settings.login_max_failures_per_address:
        retry = _retry_after(oldest, settings.login_window_s)
        raise TooManyRequests(
            f"Too many failed logins from this address; try again in {retry} s.",
            field="username",
            headers={"Retry-After": str(retry)},
        )


def _retry_after(oldest: datetime, window_s: float) -> int:
    """Whole seconds until the oldest failure leaves the window (at least 1)."""
    left = _as_utc(oldest) + timedelta(seconds=window_s) - datetime.now(UTC)
    return max(int(left.total_seconds()) + 1, 1)


def _issue_pair(session: Session, tokens: Tokens, user: User) -> TokenPair:
    access = tokens.issue_access(str(user.id), user.role)
    refresh = tokens.issue_refresh(str(user.id))
    session.add(RefreshToken(jti=refresh.jti, user_id=user.id, expires_at=refresh.expires_at))
    return TokenPair(
        access_token=access.token,
        refresh_token=refresh.token,
        expires_in=tokens.access_ttl_s,
        refresh_expires_in=tokens.refresh_ttl_s,
        user=TokenUser(id=user.id, username=user.username, display_name=user.display_name, role=user.role),
    )


def login(
    uow: UnitOfWork, settings: Settings, passwords: Passwords, tokens: Tokens, username: str, password: str
) -> TokenPair:
    session = uow.session
    check_rate_limit(session, settings, username, uow.remote_addr)
    user = session.scalar(select(User).where(func.lower(User.username) == username.lower()))
    ok = passwords.verify(user.password_hash if user else None, password)
    if not ok or user is None or not user.active:
        uow.actor = Principal(id=uuid.UUID(int=0), name=username, kind="anonymous", role="")
        uow.record(LOGIN_FAILED, "user", username.lower())
        uow.commit()
        raise Unauthorized("Wrong username or password, or the account is disabled.", field="password")
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash(password)
    # A Core UPDATE: logging in is not an edit of the user record, so its revision stays.
    session.execute(update(User).where(User.id == user.id).values(last_login_at=datetime.now(UTC)))
    pair = _issue_pair(session, tokens, user)
    uow.actor = Principal(id=user.id, name=user.username, kind="user", role=user.role)
    uow.record("auth.login", "user", user.id)
    uow.commit()
    return pair


def _actor_of(session: Session, user_id: uuid.UUID) -> Principal:
    user = session.get(User, user_id)
    name = user.username if user else str(user_id)
    return Principal(id=user_id, name=name, kind="user", role=user.role if user else "")


def refresh(uow: UnitOfWork, tokens: Tokens, refresh_token: str) -> TokenPair:
    """Swap a refresh token for a new pair; a reused (revoked) one revokes every session of that user."""
    session = uow.session
    try:
        claims = tokens.decode(refresh_token, "refresh")
    except TokenError as exc:
        raise Unauthorized(f"Refresh token rejected: {exc}.", field="refresh_token") from exc
    row = session.get(RefreshToken, claims["jti"])
    if row is None:
        raise Unauthorized("Refresh token rejected: unknown.", field="refresh_token")
    if row.revoked_at is not None:
        # A retired token presented again: it may have been stolen. Sign that user out everywhere.
        session.execute(
            update(RefreshToken)
            .where(RefreshToken.user_id == row.user_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC))
        )
        uow.actor = _actor_of(session, row.user_id)
        uow.record("auth.refresh_reused", "user", row.user_id)
        uow.commit()
        raise Unauthorized(
            "Refresh token was already used; all sessions of this user were signed out.",
            field="refresh_token",
        )
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        raise Unauthorized("This account is disabled or no longer exists.", field="refresh_token")
    row.revoked_at = datetime.now(UTC)
    pair = _issue_pair(session, tokens, user)
    session.commit()
    return pair


def logout(uow: UnitOfWork, tokens: Tokens, refresh_token: str) -> None:
    try:
        claims = tokens.decode(refresh_token, "refresh")
    except TokenError as exc:
        raise Unauthorized(f"Refresh token rejected: {exc}.", field="refresh_token") from exc
    uow.session.execute(
        update(RefreshToken)
        .where(RefreshToken.jti == claims["jti"], RefreshToken.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )
    uow.actor = _actor_of(uow.session, uuid.UUID(claims["sub"]))
    uow.record("auth.logout", "user", claims["sub"])
    uow.commit()
