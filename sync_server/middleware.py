"""ASGI middleware: request id + access log + metrics, and the request body size limit."""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import PROBLEM_JSON, PayloadTooLarge
from .logging_setup import request_id_var
from .metrics import Metrics

logger = logging.getLogger("sync_server.access")
REQUEST_ID_HEADER = b"x-request-id"


class RequestContextMiddleware:
    """Give every request an id (kept from X-Request-ID if sent), log it, and count it."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(REQUEST_ID_HEADER, b"").decode("latin-1")
        request_id = incoming[:64] if incoming else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = {"code": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (REQUEST_ID_HEADER, request_id.encode("latin-1")),
                    # No answer is ever to be read as another type than it says (uploads, media, errors).
                    (b"x-content-type-options", b"nosniff"),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            if scope["type"] == "http":
                elapsed = time.perf_counter() - started
                route = getattr(scope.get("route"), "path", "unmatched")
                self.metrics.requests.labels(scope["method"], route, str(status["code"])).inc()
                self.metrics.latency.labels(scope["method"], route).observe(elapsed)
                logger.info(
                    "%s %s %s %.1fms",
                    scope["method"],
                    scope["path"],
                    status["code"],
                    elapsed * 1000,
                    extra={
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status["code"],
                        "duration_ms": round(elapsed * 1000, 2),
                    },
                )
            request_id_var.reset(token)


class BodyLimitMiddleware:
    """Refuse request bodies over the limit with 413, whether or not Content-Length is sent."""

    def __init__(
        self, app: ASGIApp, max_body_bytes: int, upload_prefixes: tuple[str, ...], max_upload_bytes: int
    ) -> None:
        self.app = app
        self.max_body = max_body_bytes
        self.max_upload = max_upload_bytes
        self.upload_prefixes = upload_prefixes

    def _is_upload(self, path: str) -> bool:
        return any(
            path.startswith(p)
            and path.endswith(
                (
                    "/versions",
                    "/outputs",
                    "/object-info",
                    "/shotlist/import",
                    "/shotlist/apply",
                    "/camera-solve.fspy",
                    "/references",  # a character's reference images
                )
            )
            for p in self.upload_prefixes
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = self._is_upload(scope["path"])
        limit = self.max_upload if upload else self.max_body
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await _send_413(send, limit, upload)
            return
        seen = 0
        overflow = False
        suppressing = False
        response_started = False

        async def limited_receive() -> Message:
            nonlocal seen, overflow
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    overflow = True
                    raise _too_large(limit, upload)
            return message

        async def guarded_send(message: Message) -> None:
            # Once the body overflowed, the app's own 413 (e.g. one naming the file) goes through; any
            # other answer (a body parser may turn the error into a 400) is replaced by ours.
            nonlocal response_started, suppressing
            if message["type"] == "http.response.start":
                suppressing = overflow and message["status"] != 413
                response_started = not suppressing
            if not suppressing:
                await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except PayloadTooLarge:
            overflow = True
        if overflow and not response_started:
            await _send_413(send, limit, upload)


def _too_large(limit: int, upload: bool = False) -> PayloadTooLarge:
    if upload:
        return PayloadTooLarge(
            f"This upload is larger than {limit} bytes, the most one version may hold "
            "(AIPIPE_MAX_UPLOAD_BYTES).",
            field="files",
        )
    return PayloadTooLarge(f"The request body is larger than the limit of {limit} bytes.", field="body")


async def _send_413(send: Send, limit: int, upload: bool = False) -> None:
    exc = _too_large(limit, upload)
    body: dict[str, Any] = {
        "type": f"https://aipipeline.dev/problems/{exc.type_slug}",
        "title": exc.title,
        "status": exc.status,
        "detail": exc.detail,
        "errors": exc.errors,
    }
    raw = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(raw)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": raw})
