"""Refuse what no field may hold before any route sees it: NUL characters, integers beyond 64 bits and JSON
nested deeper than a limit, each a 422 naming the field (query parameter or JSON path)."""

from __future__ import annotations

import asyncio
import json
import re
import types
import typing
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import PROBLEM_JSON, Unprocessable

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# Strings (with their escapes), brackets and colons: enough to measure nesting without parsing.
_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}:]')
_LONG_DIGITS = re.compile(rb"\d{19,}")
_NUL_ESCAPE = re.compile(rb"\\u0000")
SCAN_LIMIT_BYTES = 32 * 1024 * 1024  # JSON bodies are far smaller (AIPIPE_MAX_BODY_BYTES); uploads stream
OFF_LOOP_BYTES = 64 * 1024  # bodies above this are scanned in a worker thread
# Bodies kept whole as JSON, never in an integer column, may hold wider integers: ComfyUI's /object_info
# declares unsigned 64-bit ranges (a seed's max is 2**64 - 1) and the agent sends it as it is.
_WIDE_INTEGER_PATHS = re.compile(r"^/api/farm/agents/[^/]+/object-info$")


def json_depth_error(raw: bytes, max_depth: int) -> str | None:
    """The top-level key under which `raw` nests deeper than `max_depth` ("" for the root), or None."""
    if raw.count(b"[") + raw.count(b"{") <= max_depth:
        return None  # cannot be that deep: skip the scan
    depth, last_string, top_key = 0, b"", b""
    for token in _TOKENS.finditer(raw):
        char = token.group()[:1]
        if char in (b"[", b"{"):
            depth += 1
            if depth > max_depth:
                return top_key.decode("utf-8", "replace")
        elif char in (b"]", b"}"):
            depth -= 1
        elif char == b":":
            if depth == 1:
                top_key = last_string[1:-1]
        else:
            last_string = token.group()
    return None


def load_json(text: str | bytes, field: str, max_depth: int) -> Any:
    """Parse JSON from a client: too deep, not JSON, NUL or a 64-bit overflow is a 422 naming `field`."""
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    deep = json_depth_error(raw, max_depth)
    if deep is not None:
        where = f"{field}.{deep}" if deep else field
        raise Unprocessable(f"{where} is nested deeper than {max_depth} levels.", field=where)
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise Unprocessable(f"{field} is not valid JSON: {exc}", field=field) from exc
    bad = first_bad_value(data, field)
    if bad is not None:
        raise Unprocessable(bad[1], field=bad[0])
    return data


def first_bad_value(data: Any, path: str, check_ints: bool = True) -> tuple[str, str] | None:
    """(field, message) for the first NUL character or out-of-range integer in parsed JSON, or None."""
    stack: list[tuple[str, Any]] = [(path, data)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return (
                    where,
                    f"{where or 'the body'} contains a NUL character (\\u0000), which no text may hold.",
                )
        elif isinstance(value, bool):
            continue
        elif isinstance(value, int):
            if check_ints and not INT64_MIN <= value <= INT64_MAX:
                return where, f"{where or 'the body'} is out of range (at most {INT64_MAX})."
        elif isinstance(value, dict):
            for key, item in value.items():
                child = f"{where}.{key}" if where else str(key)
                if "\x00" in str(key):
                    return child, f"The key {child!r} contains a NUL character (\\u0000)."
                stack.append((child, item))
        elif isinstance(value, list):
            stack.extend((f"{where}.{i}" if where else str(i), item) for i, item in enumerate(value))
    return None


def _is_json(scope: Scope) -> bool:
    content_type = dict(scope.get("headers") or []).get(b"content-type", b"").split(b";")[0].strip().lower()
    return content_type == b"application/json" or content_type.endswith(b"+json")


class InputGuardMiddleware:
    """Check query strings and JSON bodies (multipart forms are checked field by field by their routes)."""

    def __init__(self, app: ASGIApp, max_json_depth: int) -> None:
        self.app = app
        self.max_depth = max_json_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        bad = self._check_query(scope.get("query_string", b""))
        if bad is None and scope["type"] == "http" and _is_json(scope):
            body, complete, pending = await _read_body(receive, SCAN_LIMIT_BYTES)
            wide = bool(_WIDE_INTEGER_PATHS.match(scope.get("path", "")))
            if complete and len(body) > OFF_LOOP_BYTES:  # a scan of a big body would hold up the loop
                bad = await asyncio.to_thread(self._check_body, body, wide)
            elif complete:
                bad = self._check_body(body, wide)
            receive = _replay(body, receive, pending, complete)
        if bad is None:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": bad.detail[:120]})
            return
        await _send_problem(send, bad)

    def _check_query(self, query: bytes) -> Unprocessable | None:
        if b"%00" not in query and b"\x00" not in query:
            return None
        for key, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            if "\x00" in key or "\x00" in value:
                return Unprocessable(
                    f"The query parameter {key!r} contains a NUL character.", field=key, location="query"
                )
        return None

    def _check_body(self, body: bytes, wide_ints: bool = False) -> Unprocessable | None:
        deep = json_depth_error(body, self.max_depth)
        if deep is not None:
            return Unprocessable(
                f"{deep or 'The body'} is nested deeper than {self.max_depth} levels.", field=deep or "body"
            )
        if not (_NUL_ESCAPE.search(body) or _LONG_DIGITS.search(body)):
            return None
        try:
            data = json.loads(body)
        except ValueError:
            return None  # the route's own parser reports where the JSON is broken
        bad = first_bad_value(data, "", check_ints=not wide_ints)
        return Unprocessable(bad[1], field=bad[0] or "body") if bad else None


async def _read_body(receive: Receive, limit: int) -> tuple[bytes, bool, Message | None]:
    """(body read so far, whether that is all of it, a disconnect that ended it early). Stops after
    `limit` bytes: a bigger body (an upload route's) goes on to the route unchecked, as it streams."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False, message
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), True, None
        if size > limit:
            return b"".join(chunks), False, None


def _replay(body: bytes, receive: Receive, pending: Message | None, complete: bool) -> Receive:
    """The body read ahead as one message, then the rest of the stream (or the early disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": not complete and pending is None}
        if pending is not None:
            return pending
        return await receive()

    return replay


async def _send_problem(send: Send, exc: Unprocessable) -> None:
    errors = [{**e, "in": "query"} if exc.extra.get("location") == "query" else e for e in exc.errors]
    raw = json.dumps(
        {
            "type": f"https://aipipeline.dev/problems/{exc.type_slug}",
            "title": exc.title,
            "status": exc.status,
            "detail": exc.detail,
            "errors": errors,
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": exc.status,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(raw)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": raw})


def _holds_int(annotation: Any) -> bool:
    if annotation is int:
        return True
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, list, tuple, set, typing.Annotated):
        return any(_holds_int(arg) for arg in typing.get_args(annotation))
    return False


def _int_params(dependant: Any) -> Iterator[tuple[str, str]]:
    """(location, name) of every integer path or query parameter of a route and its dependencies."""
    for location, params in (("path", dependant.path_params), ("query", dependant.query_params)):
        for param in params:
            if _holds_int(param.field_info.annotation):
                yield location, param.alias
    for sub in dependant.dependencies:
        yield from _int_params(sub)


def integer_bounds() -> Callable[[HTTPConnection], None]:
    """An app-wide dependency: an integer path or query parameter beyond 64 bits is a 422 naming it (the
    route's own validation accepts any size, and the database driver then fails)."""
    found: dict[int, list[tuple[str, str]]] = {}  # per route object, worked out on its first request

    def check(request: HTTPConnection) -> None:  # HTTP requests and WebSockets alike
        route = request.scope.get("route")
        dependant = getattr(route, "dependant", None)
        if dependant is None:
            return
        params = found.get(id(route))
        if params is None:
            params = found[id(route)] = list(dict.fromkeys(_int_params(dependant)))
        for location, name in params:
            if location == "path":
                values = [str(request.path_params.get(name, ""))]
            else:
                values = request.query_params.getlist(name)
            for value in values:
                digits = value.strip().lstrip("+-")
                if len(digits) >= 19 and digits.isdigit() and not INT64_MIN <= int(value) <= INT64_MAX:
                    raise Unprocessable(
                        f"{name} is out of range (at most {INT64_MAX}).",
                        errors=[{"field": name, "message": f"at most {INT64_MAX}", "in": location}],
                    )

    return check
