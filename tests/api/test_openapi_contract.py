"""The OpenAPI a real server serves declares every error it answers, as problem+json, and the bodies the
agent sends; real error answers carry the declared status, media type and Problem shape."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.support.api import Api

PROBLEM_JSON = "application/problem+json"
JSON_TYPES = {"string": str, "integer": int, "array": list, "object": dict}


@pytest.fixture(scope="module")
def doc(api: Api) -> dict[str, Any]:
    response = api.client(None).get("/openapi.json")
    assert response.status_code == 200, response.text
    return response.json()


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op) for path, ops in doc["paths"].items() for method, op in ops.items()]


def test_every_error_is_declared_as_a_problem(doc: dict[str, Any]) -> None:
    assert "HTTPValidationError" not in str(doc), "FastAPI's 422 shape is declared, but never answered"
    wrong = []
    for method, path, op in operations(doc):
        label = f"{method.upper()} {path}"
        declared = {int(code) for code in op["responses"] if code.isdigit()}
        params = op.get("parameters", [])
        expected = set()
        if op.get("security"):
            expected.add(401)
        if any(p["in"] == "path" for p in params):
            expected.add(404)
        if params or "requestBody" in op:
            expected.add(422)
        if "requestBody" in op:
            expected.add(413)
        if missing := expected - declared:
            wrong.append(f"{label} does not declare {sorted(missing)}")
        for code, response in op["responses"].items():
            if int(code) >= 400 and (label, code) != ("GET /api/health", "503"):
                content = response.get("content", {})
                if list(content) != [PROBLEM_JSON] or content[PROBLEM_JSON]["schema"] != {
                    "$ref": "#/components/schemas/Problem"
                }:
                    wrong.append(f"{label} {code} is not a problem+json Problem: {content}")
    assert not wrong, "\n".join(wrong)


def test_the_bodies_agents_send_are_declared(doc: dict[str, Any]) -> None:
    by_id = {op["operationId"]: op for _, _, op in operations(doc)}
    object_info = by_id["put_agent_object_info"]["requestBody"]
    assert object_info["required"] is True
    assert object_info["content"]["application/json"]["schema"]["type"] == "object"
    outputs = by_id["upload_job_outputs"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert set(outputs["required"]) == {"lease_id", "files"}
    assert outputs["properties"]["files"]["items"]["format"] == "binary"
    for operation_id in ("job_heartbeat", "upload_job_outputs", "complete_job", "fail_job", "release_job"):
        assert "lease" in by_id[operation_id]["responses"]["409"]["description"].lower(), operation_id


def conforms(value: Any, schema: dict[str, Any], doc: dict[str, Any]) -> list[str]:
    """The few JSON-schema rules the Problem schema uses: $ref, type, required, properties, anyOf, items."""
    if "$ref" in schema:
        return conforms(value, doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]], doc)
    if "anyOf" in schema:
        results = [conforms(value, option, doc) for option in schema["anyOf"]]
        return [] if any(not r for r in results) else results[0]
    kind = schema.get("type")
    if kind == "null":
        return [] if value is None else [f"{value!r} is not null"]
    if kind and not isinstance(value, JSON_TYPES[kind]):
        return [f"{value!r} is not {kind}"]
    problems = [f"missing {name}" for name in schema.get("required", []) if name not in value]
    for name, sub in schema.get("properties", {}).items():
        if isinstance(value, dict) and name in value:
            problems += [f"{name}: {p}" for p in conforms(value[name], sub, doc)]
    if kind == "array":
        for item in value:
            problems += conforms(item, schema.get("items", {}), doc)
    return problems


def assert_declared(doc: dict[str, Any], response: httpx.Response, method: str, path: str) -> None:
    declared = doc["paths"][path][method]["responses"]
    status = str(response.status_code)
    assert status in declared, f"{method.upper()} {path} answered {status}, declares {sorted(declared)}"
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers
    schema = declared[status]["content"][PROBLEM_JSON]["schema"]
    assert not conforms(response.json(), schema, doc), (conforms(response.json(), schema, doc), response.text)


def test_real_error_answers_are_the_declared_problems(api: Api, doc: dict[str, Any]) -> None:
    project = api.project()
    pid = project["id"]
    one, many = "/api/projects/{project_id}", "/api/projects"
    anonymous = api.client(None)
    artist = api.user("artist")
    json_type = {"content-type": "application/json"}

    answers = [
        (anonymous.get(f"/api/projects/{pid}"), "get", one, 401),
        (artist.patch(f"/api/projects/{pid}", json={"name": "x", "revision": 1}), "patch", one, 403),
        (api.admin.get(f"/api/projects/{uuid.uuid4()}"), "get", one, 404),
        (api.admin.patch(f"/api/projects/{pid}", json={"fps": "fast", "revision": 1}), "patch", one, 422),
        (api.admin.patch(f"/api/projects/{pid}", json={"name": "No revision"}), "patch", one, 428),
        (api.admin.patch(f"/api/projects/{pid}", json={"name": "Old", "revision": 99}), "patch", one, 409),
        (api.admin.post(many, json={"code": project["code"], "name": "Twin"}), "post", many, 409),
        (api.admin.post(many, content=b"{x", headers=json_type), "post", many, 422),
        (api.admin.post(many, content=b"\xff{", headers=json_type), "post", many, 400),
    ]
    for response, method, path, status in answers:
        if status is not None:
            assert response.status_code == status, (path, response.status_code, response.text)
        assert_declared(doc, response, method, path)
    errors = answers[3][0].json()["errors"]
    assert [e["field"] for e in errors] == ["fps"], errors
