"""Rules the server enforces on input, written into the OpenAPI document so that what a schema allows is
what the server accepts: sortable fields, the page-size cap, revisions, If-Match and text without NUL."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

SCHEMAS = "#/components/schemas/"
# The input guard refuses a NUL character in any text, query parameter or key (input_guard.py).
NO_NUL = "^[^\\u0000]*$"
# The same rule for long texts: spelled so that schemathesis does not fold a maxLength of thousands into the
# regex as a quantifier (compiling `{0,20000}` costs it a second or more per field); `^$` adds nothing.
NO_NUL_LONG = NO_NUL + "|^$"
LONG_TEXT = 2000
# deps.if_match_header: a revision as an ETag, optionally weak and quoted, blanks around it.
IF_MATCH = '^\\s*(W/)?"?[0-9]{1,18}"?\\s*$'
REVISION_NOTE = ' Required: here, or instead as an `If-Match: "3"` header.'


def sortable_fields() -> dict[str, Iterable[str]]:
    """The `sort` fields each listing accepts, by operationId (crud.page_query refuses any other)."""
    # Imported here: these modules import the app's routes, which import this package's openapi module.
    from .catalog.characters import CHARACTERS
    from .catalog.environments import ENVIRONMENTS
    from .catalog.presets import PRESETS
    from .catalog.scenes import SCENES
    from .farm.jobs import SORTABLE as JOBS
    from .history.service import SORTABLE as HISTORY
    from .projects.service import SORTABLE as PROJECTS
    from .shots.service import SORTABLE as SHOTS
    from .takes.service import SORTABLE as TAKES
    from .versions.review import SORTABLE as REVIEWS
    from .versions.service import SORTABLE as VERSIONS

    specs = (SCENES, CHARACTERS, ENVIRONMENTS, PRESETS)
    found: dict[str, Iterable[str]] = {f"list_{spec.plural}": spec.sortable for spec in specs}
    found.update(
        list_jobs=JOBS,
        list_project_history=HISTORY,
        list_shot_history=HISTORY,
        list_projects=PROJECTS,
        list_shots=SHOTS,
        list_takes=TAKES,
        list_reviews=REVIEWS,
        list_versions=VERSIONS,
        # Local to their route functions (users/routes.py, audit/routes.py, breakdown/routes.py).
        list_users=("username", "role", "created_at"),
        list_api_keys=("name", "created_at"),
        list_audit_events=("id", "at"),
        list_breakdowns=("created_at", "status"),
    )
    return found


def sort_pattern(fields: Iterable[str]) -> str:
    """What deps.list_params and crud.page_query accept: comma-separated fields, each after any '-'/'+',
    blanks around each, empty parts skipped."""
    names = "|".join(re.escape(name) for name in sorted(fields))
    part = f"\\s*(?:[-+]*(?:{names})\\s*)?"
    return f"^{part}(?:,{part})*$"


def forbid_nul(node: Any) -> None:
    """Every free text (no pattern, format, enum or const of its own) and every map key may not hold NUL."""
    if isinstance(node, dict):
        own = node.keys() & {"pattern", "enum", "const"} or node.get("format", "password") != "password"
        if node.get("type") == "string" and not own:
            node["pattern"] = NO_NUL if node.get("maxLength", 0) <= LONG_TEXT else NO_NUL_LONG
        extra = node.get("additionalProperties")
        if node.get("type") == "object" and extra is not False and "propertyNames" not in node:
            node["propertyNames"] = {"pattern": NO_NUL}
        for value in node.values():
            forbid_nul(value)
    elif isinstance(node, list):
        for value in node:
            forbid_nul(value)


def _require_revision(operation: dict[str, Any], schemas: dict[str, Any]) -> None:
    """An update or delete insists on the revision it edited (428 without): say so where it is sent."""
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "query" and parameter["name"] == "revision":
            schema = parameter["schema"]
            integer = next((o for o in schema.get("anyOf", [schema]) if o.get("type") == "integer"), schema)
            parameter["required"] = True
            parameter["schema"] = integer
            parameter["description"] = "The revision you delete." + REVISION_NOTE
    for media in operation.get("requestBody", {}).get("content", {}).values():
        ref = media.get("schema", {}).get("$ref", "")
        body = schemas.get(ref.removeprefix(SCHEMAS), {}) if ref.startswith(SCHEMAS) else {}
        revision = body.get("properties", {}).get("revision")
        if revision is None:
            continue
        if "revision" not in body.get("required", []):
            body["required"] = [*body.get("required", []), "revision"]
        for option in revision.pop("anyOf", []):
            if option.get("type") == "integer":
                revision.update(option)
        revision.pop("default", None)
        revision["description"] = (
            revision.get("description", "The revision this edit is based on.").rstrip(".")
            + "."
            + REVISION_NOTE
        )


def declare_input_rules(
    operation: dict[str, Any],
    schemas: dict[str, Any],
    *,
    lists: bool,
    page_size_max: int,
    revision_required: bool,
) -> None:
    """Write the server's own checks on `operation`'s input into its parameters and body schemas."""
    operation_id = operation.get("operationId", "")
    for parameter in operation.get("parameters", []):
        schema = parameter.get("schema", {})
        if lists and parameter["in"] == "query" and parameter["name"] == "limit":
            for option in schema.get("anyOf", [schema]):
                if option.get("type") == "integer":
                    option["maximum"] = page_size_max
        elif lists and parameter["in"] == "query" and parameter["name"] == "sort":
            fields = sortable_fields().get(operation_id)
            if fields is None:
                raise LookupError(f"{operation_id} takes `sort`: name its fields in sortable_fields()")
            for option in schema.get("anyOf", [schema]):
                if option.get("type") == "string":
                    option["pattern"] = sort_pattern(fields)
            parameter["description"] = (
                f"Comma-separated fields, '-' before one for descending; any of: {', '.join(sorted(fields))}."
            )
        elif parameter["in"] == "header" and parameter["name"].lower() == "if-match":
            # Absent when not sent: a header has no null (a generator would send the text "null").
            parameter["schema"] = {"type": "string", "pattern": IF_MATCH, "title": "If-Match"}
    if revision_required:
        _require_revision(operation, schemas)
        # The document asks for `revision` where it is required; If-Match, its alternative (the same number,
        # or 422), is told in that field's description: declared as well it would be a second, clashing
        # way to send one value.
        parameters = operation.get("parameters", [])
        operation["parameters"] = [p for p in parameters if (p["in"], p["name"]) != ("header", "if-match")]
    content = operation.get("requestBody", {}).get("content", {})
    form = content.get("multipart/form-data", {}).get("schema", {})
    if form.get("type") == "object":
        # Every part of a form needs a name, one of the route's fields (the form reader refuses any other).
        form.setdefault("additionalProperties", False)
    for name in form.get("required", []):
        field = form.get("properties", {}).get(name, {})
        if field.get("type") == "array" and field.get("items", {}).get("format") == "binary":
            field.setdefault("minItems", 1)  # required files: at least one (the routes refuse none)
    forbid_nul(operation.get("parameters", []))
    forbid_nul(operation.get("requestBody", {}))
