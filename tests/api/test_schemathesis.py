"""Schemathesis over the whole OpenAPI of a real server: no input gets a 5xx, every answer is declared.

Each operation gets a bounded number of generated requests (schema-valid ones, with the ids of real records
where the path names one, then schema-invalid ones); every response is checked for a server error, a status
code, content type, headers and body the document declares. The breakdown's LLM is the stand-in. Sizes:
AIPIPE_SCHEMATHESIS_EXAMPLES (default below) per operation and mode.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import ADMIN, _temporary_database, start_server_with_admin
from tests.llm_standin.server import load_replies, running_llm
from tests.support.api import Api, login
from tests.support.media import png_bytes

PROSE = (Path(__file__).resolve().parents[1] / "data" / "breakdown" / "rooftop_prose.txt").read_text("utf-8")
EXAMPLES = int(os.environ.get("AIPIPE_SCHEMATHESIS_EXAMPLES", "4"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# A claim long-polls for up to wait_s on purpose: generated waits would only make the run slow.
SKIPPED = {"claim_job"}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fuzzed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """A server of its own (generated writes stay out of other tests), its LLM the stand-in."""
    databases = None
    url = None
    if request.param == "postgresql":
        databases = _temporary_database(request.getfixturevalue("pg_server_url"))
        url = next(databases)
    replies = load_replies()
    # Any other script gets the first captured breakdown: generated text still reaches the apply path.
    with running_llm(fixtures=[*replies, {"match": "", "reply": replies[0]["reply"]}]) as llm:
        env = {"AIPIPE_LLM_BASE_URL": llm.base_url, "AIPIPE_LLM_MODEL": llm.llm.model}
        server, password = start_server_with_admin(tmp_path_factory.mktemp(f"fuzz-{request.param}"), url, env)
        admin = login(server.url, ADMIN, password)
        try:
            yield Api(server.url, server.ws_url, admin, request.param, database_url=url)
        finally:
            admin.close()
            server.stop()
            if databases is not None:
                next(databases, None)


@dataclass
class Records:
    """Ids of real records, so generated requests reach past the 404 of an unknown id."""

    by_name: dict[str, str]
    by_collection: dict[str, str]

    def path_parameters(self, path: str, names: list[str]) -> dict[str, str]:
        found = {n: self.by_name[n] for n in names if n in self.by_name}
        if "item_id" in names:
            collection = path.removeprefix("/api/").split("/", 1)[0]
            if collection in self.by_collection:
                found["item_id"] = self.by_collection[collection]
        return found


def created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    return response.json()


def seed(api: Api) -> Records:
    """A project with a scene, shot, character, environment, published version, breakdown draft and history,
    a registered agent and a queued job: the records generated requests are pointed at."""
    admin = api.admin
    project = api.project()
    pid = project["id"]
    scene = api.scene(pid)
    shot = api.shot(pid, scene["id"])
    character = created(admin.post(f"/api/projects/{pid}/characters", json={"name": "Rina"}))
    environment = created(admin.post(f"/api/projects/{pid}/environments", json={"name": "Rooftop"}))
    presets = admin.get(f"/api/projects/{pid}/presets").json()["items"]
    agent = created(admin.post("/api/farm/agents/register", json={"name": f"fuzz-{uuid.uuid4().hex[:6]}"}))
    version = created(
        admin.post(
            f"/api/shots/{shot['id']}/versions",
            data={"stage": "previz"},
            files={"files": ("frame.png", png_bytes(64, 36), "image/png")},
        )
    )
    params = {"image": "first_frame.png", "width": 64, "height": 64, "length": 4, "fps": 8}
    job = {"type": "i2v", "workflow": "cpu_test_still_video", "params": params}
    job = created(admin.post("/api/farm/jobs", json=job))
    draft = created(admin.post(f"/api/projects/{pid}/breakdowns", json={"text": PROSE, "engine": "llm"}))
    change_set = admin.get(f"/api/projects/{pid}/history").json()["items"][0]
    by_name = {
        "project_id": pid,
        "shot_id": shot["id"],
        "agent_id": agent["agent_id"],
        "version_id": version["id"],
        "file_id": version["files"][0]["id"],
        "job_id": job["id"],
        "draft_id": draft["id"],
        "change_set_id": change_set["id"],
    }
    by_collection = {"scenes": scene["id"], "characters": character["id"], "environments": environment["id"]}
    if presets:
        by_name["preset_id"] = by_collection["presets"] = presets[0]["id"]
    return Records(by_name, by_collection)


def test_no_server_errors_and_every_answer_declared(fuzzed: Api) -> None:
    schema = schemathesis.openapi.from_url(f"{fuzzed.base_url}/openapi.json")
    records = seed(fuzzed)
    session = requests.Session()
    session.headers["Authorization"] = fuzzed.admin.headers["Authorization"]
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.definition.raw.get("operationId") in SKIPPED:
            continue
        operations += 1
        names = [p.name for p in operation.path_parameters]
        fixed = records.path_parameters(operation.path, names) if operation.method.upper() != "DELETE" else {}
        runs = [(GenerationMode.POSITIVE, fixed or None)]
        if operation.body or any(True for _ in operation.iter_parameters()):
            runs.append((GenerationMode.NEGATIVE, fixed or None))
        for mode, path_parameters in runs:
            error = _run(operation, mode, path_parameters, session, fuzzed.base_url)
            if error:
                failures.append(f"{operation.method.upper()} {operation.path} ({mode.value}): {error}")
                break
    assert operations > 100, f"only {operations} operations in the document"
    assert not failures, f"{len(failures)} operations failed:\n\n" + "\n\n".join(failures)


def _run(
    operation: Any,
    mode: GenerationMode,
    path_parameters: dict[str, str] | None,
    session: requests.Session,
    base_url: str,
) -> str | None:
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    @given(case=strategy)
    def check(case: Any) -> None:
        case.call_and_validate(base_url=base_url, session=session, checks=CHECKS, timeout=30)

    try:
        check()
    except (Exception, BaseExceptionGroup) as exc:  # collected, to report every operation at once
        return str(exc)[:3000]
    return None
