"""The OpenAPI document says what the server answers: every error is problem+json, declared per route.

Each route's error responses follow from what it depends on (a caller → 401, a permission → 403, a path id →
404, parameters or a body → 422, a body → 400/413, a write unit of work → 409, an If-Match revision → 428);
a route declares the rest with `responses=problems(...)` in its decorator.
"""

from __future__ import annotations

import inspect
import json
import threading
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, routing
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from .deps import get_principal, if_match_header, list_params
from .errors import PROBLEM_JSON, Problem
from .input_guard import INT64_MAX, INT64_MIN
from .input_rules import declare_input_rules, forbid_nul

SCHEMAS = "#/components/schemas/"
# Routes that take an If-Match revision but do not insist on one (a confirm checks it only when given).
REVISION_OPTIONAL = frozenset({"confirm_project"})
PROBLEM_REF = SCHEMAS + "Problem"
# FastAPI's own 422 shape, which this server never answers (errors.install_error_handlers).
FASTAPI_422_SCHEMAS = ("HTTPValidationError", "ValidationError")

REASONS: dict[int, str] = {
    400: "The body could not be read as the declared media type (e.g. not JSON).",
    401: "Not authenticated: no, expired or revoked token or API key (`WWW-Authenticate: Bearer`).",
    403: "The caller's role lacks a permission this needs (`required` lists it).",
    404: "Not found: the id in the path (or a record it names) does not exist.",
    409: "Conflict with the current state (`current` holds the record as it is now, when there is one).",
    413: "The request body is larger than the server accepts.",
    422: "Invalid input: `errors` names each field at fault.",
    428: "Revision required: send the revision you edited (body `revision` or an `If-Match` header).",
    429: "Too many requests: try again after `Retry-After` seconds.",
    503: "The service is unavailable (e.g. the database cannot be reached).",
}


def problems(*statuses: int, reasons: dict[int, str] | None = None) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route decorator: error statuses this route answers beyond its defaults."""
    reasons = reasons or {}
    return {status: {"description": reasons.get(status, REASONS[status])} for status in statuses}


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _dependants(sub)


def _needs_permission(call: Any) -> bool:
    """A `deps.require(...)`/`require_any(...)` check that names at least one permission."""
    qualname = getattr(call, "__qualname__", "")
    if not qualname.startswith(("require.<locals>.check", "require_any.<locals>.check")):
        return False
    return bool(inspect.getclosurevars(call).nonlocals.get("permissions"))


def _writes(call: Any) -> bool:
    """A `deps.uow_for(...)` unit of work: a write that can meet a unique key or a newer state (409)."""
    return getattr(call, "__qualname__", "") == "_uow_dependency.<locals>.make"


def default_statuses(route: APIRoute) -> set[int]:
    """The error statuses a route can answer, as far as its parameters and dependencies tell."""
    found: set[int] = set()
    nodes = list(_dependants(route.dependant))
    calls = [node.call for node in nodes]
    if get_principal in calls:
        found.add(401)
    if any(_needs_permission(call) for call in calls):
        found.add(403)
    if route.dependant.path_params:
        found.add(404)
    has_body = route.body_field is not None or "requestBody" in (route.openapi_extra or {})
    has_params = any(node.path_params or node.query_params or node.header_params for node in nodes)
    if has_body:
        found.update((400, 413))
    if has_body or has_params:
        found.add(422)
    if any(_writes(call) for call in calls):
        found.add(409)
    if if_match_header in calls:
        found.add(409)
        if route.operation_id not in REVISION_OPTIONAL:
            found.add(428)
    return found


def _error_response(status: int, declared: dict[str, Any] | None, own_body: bool) -> dict[str, Any]:
    """The response for an error status: problem+json, unless the route declared a body of its own."""
    description = (declared or {}).get("description")
    if not description or description == "Validation Error":
        description = REASONS.get(status, "Error.")
    content = (declared or {}).get("content") if own_body else None
    response: dict[str, Any] = {
        "description": description,
        "content": content or {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}},
    }
    headers = {
        401: ("WWW-Authenticate", "The scheme to authenticate with: `Bearer`."),
        429: ("Retry-After", "Seconds until a new try may succeed."),
    }.get(status)
    if headers:
        response["headers"] = {headers[0]: {"description": headers[1], "schema": {"type": "string"}}}
    return response


def _bound_integers(node: Any) -> None:
    """Give every integer without bounds the 64-bit range (the input guard refuses anything beyond it), its
    bounds as integers."""
    if isinstance(node, dict):
        if node.get("type") == "integer":
            for bound in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
                # Pydantic may write `ge=0` as 0.0: a generator then sends 82.0, which strict models refuse.
                if isinstance(node.get(bound), float) and node[bound].is_integer():
                    node[bound] = int(node[bound])
            if "maximum" not in node and "exclusiveMaximum" not in node:
                node["maximum"] = INT64_MAX
            if "minimum" not in node and "exclusiveMinimum" not in node:
                node["minimum"] = INT64_MIN
        for value in node.values():
            _bound_integers(value)
    elif isinstance(node, list):
        for value in node:
            _bound_integers(value)


def _operations(app: FastAPI) -> Iterator[tuple[str, str, APIRoute]]:
    # FastAPI ≥ 0.16x keeps included routers nested (route contexts); older versions list APIRoutes.
    contexts = getattr(routing, "iter_route_contexts", None)
    for route in contexts(app.routes) if contexts else app.routes:
        if isinstance(getattr(route, "original_route", route), APIRoute) and route.include_in_schema:
            for method in route.methods:
                yield route.path_format, method.lower(), route


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document with problem+json errors declared for every operation."""
    doc = get_openapi(
        title=app.title,
        version=app.version,
        openapi_version=app.openapi_version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
        servers=app.servers,
    )
    for path, method, route in _operations(app):
        operation = doc["paths"][path][method]
        responses = operation.setdefault("responses", {})
        declared = {int(code) for code in responses if code.isdigit() and int(code) >= 400}
        for status in sorted(declared | default_statuses(route)):
            own = route.responses.get(status) or route.responses.get(str(status)) or {}
            own_body = "model" in own or "content" in own  # e.g. health's degraded 503
            responses[str(status)] = _error_response(status, responses.get(str(status)), own_body)
        operation["responses"] = dict(sorted(responses.items()))
    _bound_integers(doc["paths"])
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    page_size_max = app.state.services.settings.page_size_max
    for path, method, route in _operations(app):
        calls = {node.call for node in _dependants(route.dependant)}
        declare_input_rules(
            doc["paths"][path][method],
            schemas,
            lists=list_params in calls,
            page_size_max=page_size_max,
            revision_required=if_match_header in calls and route.operation_id not in REVISION_OPTIONAL,
        )
    for name in FASTAPI_422_SCHEMAS:
        schemas.pop(name, None)
    _bound_integers(schemas)
    forbid_nul(schemas)
    problem = Problem.model_json_schema(ref_template=SCHEMAS + "{model}")
    schemas.update(problem.pop("$defs", {}))
    schemas["Problem"] = problem
    doc["components"]["schemas"] = dict(sorted(schemas.items()))
    return doc


def install_openapi(app: FastAPI) -> None:
    """Serve `build_openapi`'s document at the app's openapi_url. Building it takes seconds (FastAPI walks
    every model), so it is built once, in a worker thread, never on the event loop."""
    lock = threading.Lock()

    def openapi() -> dict[str, Any]:
        with lock:
            if app.openapi_schema is None:
                app.openapi_schema = build_openapi(app)
        return app.openapi_schema

    def rendered() -> bytes:
        body = getattr(app.state, "openapi_body", None)
        if body is None:
            body = app.state.openapi_body = json.dumps(openapi(), ensure_ascii=False).encode()
        return body

    async def serve(_request: Request) -> Response:
        return Response(await run_in_threadpool(rendered), media_type="application/json")

    app.openapi = openapi  # type: ignore[method-assign]
    if app.openapi_url:
        # FastAPI's own handler would build the document on the event loop: ours replaces it.
        app.router.routes[:] = [r for r in app.router.routes if getattr(r, "path", None) != app.openapi_url]
        app.add_route(app.openapi_url, serve, include_in_schema=False)


def render_document(doc: dict[str, Any]) -> str:
    """The committed form of the document (docs/openapi.json): stable key order, UTF-8, one newline."""
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
