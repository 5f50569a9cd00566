"""Creating users and API keys (also used by the CLI), and the first admin."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from .. import resources
from ..auth.passwords import Passwords
from ..auth.tokens import hash_api_key, new_api_key
from ..context import UnitOfWork
from ..crud import apply_changes, check_revision, get_or_404
from ..db.base import utcnow
from ..db.models import ApiKey, RefreshToken, User
from ..errors import Conflict, Unauthorized, Unprocessable
from .schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyOut, PasswordChange, UserCreate, UserOut, UserUpdate

USER = resources.Resource(User, "user", UserOut.model_validate, unique_field="username")
FIRST_ADMIN = "admin"


def create_user(uow: UnitOfWork, passwords: Passwords, body: UserCreate) -> UserOut:
    user = User(
        username=body.username,
        display_name=body.display_name or body.username,
        role=body.role,
        password_hash=passwords.hash(body.password),
        active=True,
    )
    return resources.create(uow, USER, user)  # type: ignore[return-value]


def revoke_refresh_tokens(session: Session, user_id: uuid.UUID) -> None:
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def update_user(
    uow: UnitOfWork, passwords: Passwords, user_id: uuid.UUID, body: UserUpdate, revision: int
) -> UserOut:
    user = get_or_404(uow.session, User, user_id, "user")
    check_revision(user, revision, "user", lambda: UserOut.model_validate(user))
    values: dict[str, Any] = body.model_dump(exclude_unset=True, exclude={"revision", "password"})
    for name in ("role", "active"):
        if name in values and values[name] is None:
            raise Unprocessable(f"{name} cannot be null", field=name)
    if user.id == uow.actor.id and (values.get("active") is False or values.get("role", "admin") != "admin"):
        raise Conflict("You cannot disable yourself or take away your own admin role.", field="role")
    if body.password is not None:
        values["password_hash"] = passwords.hash(body.password)  # the audit log shows it as "***"
    out = resources.update(uow, USER, user, values, revision, commit=False)
    if body.password is not None or values.get("active") is False:
        revoke_refresh_tokens(uow.session, user.id)
    uow.commit()
    return out  # type: ignore[return-value]


def change_own_password(uow: UnitOfWork, passwords: Passwords, body: PasswordChange) -> None:
    user = get_or_404(uow.session, User, uow.actor.id, "user")
    if not passwords.verify(user.password_hash, body.current_password):
        raise Unauthorized("The current password is wrong.", field="current_password")
    before = user.revision
    changes = apply_changes(user, {"password_hash": passwords.hash(body.new_password)})
    uow.session.flush()
    revoke_refresh_tokens(uow.session, user.id)
    uow.record(
        "user.password_changed",
        "user",
        user.id,
        revision_before=before,
        revision_after=user.revision,
        changes=changes,
    )
    uow.commit()


def create_api_key(uow: UnitOfWork, body: ApiKeyCreate) -> ApiKeyCreated:
    key = new_api_key()
    row = ApiKey(
        name=body.name,
        role=body.role,
        prefix=key[:12],
        key_hash=hash_api_key(key),
        created_by=uow.actor.id if uow.actor.kind == "user" else None,
    )
    uow.session.add(row)
    uow.session.flush()
    out = ApiKeyOut.model_validate(row)
    uow.record("api_key.created", "api_key", row.id, data=out.model_dump(mode="json"))
    uow.commit()
    return ApiKeyCreated(**out.model_dump(), key=key)


def revoke_api_key(uow: UnitOfWork, key_id: uuid.UUID) -> ApiKeyOut:
    row = get_or_404(uow.session, ApiKey, key_id, "API key")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        uow.session.flush()
        uow.record(
            "api_key.revoked", "api_key", row.id, data=ApiKeyOut.model_validate(row).model_dump(mode="json")
        )
        uow.commit()
    return ApiKeyOut.model_validate(row)


def ensure_first_admin(uow: UnitOfWork, passwords: Passwords) -> str | None:
    """On a server with no users, create `admin` with a one-time password and return it."""
    if uow.session.scalar(select(func.count()).select_from(User)):
        return None
    password = secrets.token_urlsafe(12)
    create_user(
        uow,
        passwords,
        UserCreate(username=FIRST_ADMIN, password=password, role="admin", display_name="Administrator"),
    )
    return password
