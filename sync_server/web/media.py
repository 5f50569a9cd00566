"""Signed media URLs for the browser's player: a <video src> cannot send the Authorization header, so the
page asks (with its bearer token) for a URL that carries a short-lived token for one file of one version."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from ..auth.permissions import Permission as P
from ..auth.permissions import role_has
from ..auth.tokens import TokenError
from ..context import Principal
from ..db.models import User
from ..deps import ReadSession, ServicesDep, require
from ..errors import Forbidden, Unauthorized
from ..versions import service as versions

MEDIA_PATH = "/media/{version_id}/{file_id}"


class MediaUrlOut(BaseModel):
    url: str = Field(description="Relative URL that plays the file (Range requests) until `expires_at`.")
    expires_at: datetime


api_router = APIRouter(tags=["versions"])
public_router = APIRouter(include_in_schema=False)


@api_router.post(
    "/versions/{version_id}/files/{file_id}/media-url",
    response_model=MediaUrlOut,
    operation_id="create_media_url",
)
def create_media_url(
    version_id: uuid.UUID,
    file_id: uuid.UUID,
    session: ReadSession,
    services: ServicesDep,
    principal: Annotated[Principal, Depends(require(P.PROJECT_READ))],
) -> MediaUrlOut:
    """A URL for a browser's <video>/<img>: this one file only, valid `AIPIPE_MEDIA_URL_TTL_S` seconds."""
    if principal.kind != "user":
        raise Forbidden("Media URLs are for people's browsers; an API key sends its key as a header.")
    versions.file_path(session, services.settings.resolved_storage_root, version_id, file_id)  # 404s
    issued = services.tokens.issue_media(
        str(principal.id), services.settings.media_url_ttl_s, {"vid": str(version_id), "fid": str(file_id)}
    )
    url = MEDIA_PATH.format(version_id=version_id, file_id=file_id) + f"?token={issued.token}"
    return MediaUrlOut(url=url, expires_at=issued.expires_at)


@public_router.get(MEDIA_PATH)
def play_media(
    version_id: uuid.UUID,
    file_id: uuid.UUID,
    session: ReadSession,
    services: ServicesDep,
    token: Annotated[str, Query(max_length=2048)],
) -> FileResponse:
    """The file's bytes for a signed URL (Range, If-Range); the token is checked on every request."""
    try:
        claims = services.tokens.decode(token, "media")
    except TokenError as exc:
        raise Unauthorized(f"Media URL refused: {exc}; ask for a new one.", field="token") from exc
    if claims.get("vid") != str(version_id) or claims.get("fid") != str(file_id):
        raise Forbidden("This media URL was made for another file.", field="token")
    # The account may have been disabled or demoted since the URL was made.
    user = session.get(User, uuid.UUID(claims["sub"]))
    if user is None or not user.active or not role_has(user.role, P.PROJECT_READ):
        raise Unauthorized("Media URL refused: the account may no longer read projects.", field="token")
    path, row = versions.file_path(session, services.settings.resolved_storage_root, version_id, file_id)
    left = max(0, int(claims["exp"] - datetime.now(UTC).timestamp()))
    return FileResponse(
        path,
        media_type=row.mime,
        filename=row.name,
        content_disposition_type="inline",
        headers={
            "ETag": f'"{row.sha256}"',
            "Cache-Control": f"private, max-age={left}",
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
        },
    )
