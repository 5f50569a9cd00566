"""JWT access and refresh tokens, and API keys (random, stored only as a SHA-256 hash)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

ISSUER = "aipipeline"
ALGORITHM = "HS256"
API_KEY_PREFIX = "aip_"


class TokenError(Exception):
    """The token is malformed, expired, or of the wrong kind."""


@dataclass(frozen=True)
class IssuedToken:
    token: str
    jti: str
    expires_at: datetime


class Tokens:
    def __init__(self, secret: str, access_ttl_s: int, refresh_ttl_s: int) -> None:
        self._secret = secret
        self.access_ttl_s = access_ttl_s
        self.refresh_ttl_s = refresh_ttl_s

    def _issue(self, subject: str, kind: str, ttl_s: int, claims: dict[str, Any]) -> IssuedToken:
        now = datetime.now(UTC)
        expires = now + timedelta(seconds=ttl_s)
        jti = uuid.uuid4().hex
        payload = {
            "sub": subject,
            "typ": kind,
            "jti": jti,
            "iat": now,
            "exp": expires,
            "iss": ISSUER,
            **claims,
        }
        return IssuedToken(jwt.encode(payload, self._secret, algorithm=ALGORITHM), jti, expires)

    def issue_access(self, user_id: str, role: str) -> IssuedToken:
        return self._issue(user_id, "access", self.access_ttl_s, {"role": role})

    def issue_refresh(self, user_id: str) -> IssuedToken:
        return self._issue(user_id, "refresh", self.refresh_ttl_s, {})

    def issue_media(self, user_id: str, ttl_s: int, claims: dict[str, Any]) -> IssuedToken:
        """A token for one media file (typ "media"): it goes in a URL, as a <video> cannot send a header."""
        return self._issue(user_id, "media", ttl_s, claims)

    def decode(self, token: str, kind: str) -> dict[str, Any]:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "jti", "typ"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenError("token expired") from exc
        except jwt.InvalidTokenError as exc:
            raise TokenError("invalid token") from exc
        if claims.get("typ") != kind:
            raise TokenError(f"expected a {kind} token")
        return claims


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def is_api_key(token: str) -> bool:
    return token.startswith(API_KEY_PREFIX)
