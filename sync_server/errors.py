"""One error format for the whole API: RFC 9457 problem+json that names the field at fault."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
logger = logging.getLogger(__name__)


class ProblemError(BaseModel):
    """One field at fault in a problem's `errors`."""

    field: str
    message: str
    type: str | None = None
    in_: str | None = Field(None, alias="in", description="query, path or header; absent for the body")


class Problem(BaseModel):
    """The body of every error answer (RFC 9457); members beyond these add detail (`current`, `required`)."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    request_id: str | None = None
    errors: list[ProblemError] | None = None


class ApiError(Exception):
    """An error a client can act on. `errors` lists {field, message}; `extra` adds members to the body."""

    status = 400
    title = "Bad request"
    type_slug = "bad-request"

    def __init__(
        self,
        detail: str,
        *,
        field: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or ([{"field": field, "message": detail}] if field else [])
        self.headers = headers or {}
        self.extra = extra


class NotFound(ApiError):
    status, title, type_slug = 404, "Not found", "not-found"


class Conflict(ApiError):
    status, title, type_slug = 409, "Conflict", "conflict"


class StaleRevision(Conflict):
    title, type_slug = "Stale revision", "stale-revision"


class PreconditionRequired(ApiError):
    status, title, type_slug = 428, "Revision required", "revision-required"


class Unauthorized(ApiError):
    status, title, type_slug = 401, "Not authenticated", "unauthorized"

    def __init__(self, detail: str, **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        # RFC 9110 §15.5.2: every 401 names the scheme to use.
        self.headers.setdefault("WWW-Authenticate", "Bearer")


class Forbidden(ApiError):
    status, title, type_slug = 403, "Forbidden", "forbidden"


class PayloadTooLarge(ApiError):
    status, title, type_slug = 413, "Payload too large", "payload-too-large"


class TooManyRequests(ApiError):
    status, title, type_slug = 429, "Too many requests", "too-many-requests"


class Unprocessable(ApiError):
    status, title, type_slug = 422, "Invalid input", "validation"


def problem(
    request: Request | None,
    status: int,
    title: str,
    detail: str,
    type_slug: str,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://aipipeline.dev/problems/{type_slug}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if request is not None:
        body["instance"] = request.url.path
        request_id = getattr(request.state, "request_id", None)
        if request_id:
            body["request_id"] = request_id
    if errors:
        body["errors"] = errors
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) if parts else str(loc[0]) if loc else ""


def validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        loc = err.get("loc", ())
        entry: dict[str, Any] = {
            "field": _field_path(loc),
            "message": err.get("msg", ""),
            "type": err.get("type"),
        }
        if loc and loc[0] in ("query", "path", "header"):
            entry["in"] = loc[0]
        out.append(entry)
    return out


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return problem(
            request, exc.status, exc.title, exc.detail, exc.type_slug, exc.errors, exc.headers, **exc.extra
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = validation_errors(exc)
        fields = ", ".join(sorted({e["field"] for e in errors if e["field"]}))
        detail = f"Invalid input in: {fields}" if fields else "Invalid input"
        return problem(request, 422, "Invalid input", detail, "validation", errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "Error")
        return problem(
            request,
            exc.status_code,
            title,
            str(exc.detail),
            f"http-{exc.status_code}",
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error", extra={"path": request.url.path})
        # The server closes the connection after an unhandled error (uvicorn does, once the answer is out):
        # saying so keeps a client from sending its next request on it and getting a reset.
        return problem(
            request,
            500,
            "Internal server error",
            "The server failed; see its log.",
            "internal",
            headers={"Connection": "close", "X-Content-Type-Options": "nosniff"},  # outside the middleware
        )
