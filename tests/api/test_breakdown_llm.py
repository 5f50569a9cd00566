"""Scenario breakdown through an LLM: a real server talking to the OpenAI-compatible stand-in on loopback.

Prose is chunked and broken down; broken JSON is retried; schema violations, refusals and timeouts are
clear errors that store nothing; the prompt template version is recorded; the API key is sent and never
logged."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ADMIN, _temporary_database, start_server_with_admin
from tests.llm_standin.server import (
    BROKEN_JSON,
    REFUSAL,
    SCHEMA_VIOLATION,
    HttpError,
    Reply,
    RunningLlm,
    Stall,
    running_llm,
)
from tests.support.api import Api, assert_problem, login
from tests.support.server import ServerProcess

DATA = Path(__file__).resolve().parents[1] / "data" / "breakdown"
PROSE = (DATA / "rooftop_prose.txt").read_text(encoding="utf-8")
SECRET = "sk-standin-do-not-log-0123456789"
TIMEOUT_S = 1.5


@dataclass
class LlmServer:
    api: Api
    llm: RunningLlm
    server: ServerProcess


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def llm_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LlmServer]:
    """A server whose LLM endpoint is the stand-in (short timeout, small chunks, an API key)."""
    databases = None
    url = None
    if request.param == "postgresql":
        databases = _temporary_database(request.getfixturevalue("pg_server_url"))
        url = next(databases)
    with running_llm() as llm:
        env = {
            "AIPIPE_LLM_BASE_URL": llm.base_url,
            "AIPIPE_LLM_MODEL": llm.llm.model,
            "AIPIPE_LLM_API_KEY": SECRET,
            "AIPIPE_LLM_TIMEOUT_S": str(TIMEOUT_S),
            "AIPIPE_LLM_MAX_ATTEMPTS": "3",
            "AIPIPE_LLM_CHUNK_CHARS": "500",
            "AIPIPE_LOG_LEVEL": "DEBUG",
        }
        data_dir = tmp_path_factory.mktemp(f"llm-{request.param}")
        server, password = start_server_with_admin(data_dir, url, env)
        admin = login(server.url, ADMIN, password)
        try:
            yield LlmServer(Api(server.url, server.ws_url, admin, request.param, data_dir, url), llm, server)
        finally:
            admin.close()
            server.stop()
            if databases is not None:
                next(databases, None)


@pytest.fixture
def setup(llm_server: LlmServer) -> LlmServer:
    llm_server.llm.llm.reset()
    return llm_server


def _nothing_stored(api: Api, project_id: str) -> None:
    assert api.admin.get(f"/api/projects/{project_id}/breakdowns").json()["total"] == 0
    for kind in ("scenes", "shots", "characters", "environments"):
        assert api.admin.get(f"/api/projects/{project_id}/{kind}").json()["total"] == 0


def test_prose_is_chunked_sent_with_the_schema_and_merged_into_one_draft(setup: LlmServer) -> None:
    api, llm = setup.api, setup.llm.llm
    project = api.project(fps="24")
    response = api.admin.post(f"/api/projects/{project['id']}/breakdowns", json={"text": PROSE})
    assert response.status_code == 201, response.text
    draft = response.json()

    assert draft["engine"] == "llm" and draft["source_format"] == "prose"
    assert draft["template_name"] == "breakdown.system" and draft["template_version"] == 1
    detail = draft["engine_detail"]
    assert detail["pieces"] == 2 and detail["attempts"] == [1, 1] and detail["model"] == llm.model
    assert detail["templates"] == {"breakdown.system": 1, "breakdown.user": 1}
    sent = llm.requests[0]
    assert sent["headers"]["authorization"] == f"Bearer {SECRET}"
    assert sent["body"]["response_format"]["type"] == "json_schema"
    schema = sent["body"]["response_format"]["json_schema"]["schema"]
    assert set(schema["required"]) == {"characters", "environments", "scenes", "shots"}
    assert "part 1 of 2" in sent["body"]["messages"][1]["content"]
    content = draft["content"]
    # Rina in part 1 and 리나 (alias Rina) in part 2 are one character; her clothing from both parts.
    assert [c["name"] for c in content["characters"]] == ["Rina", "Minsu"]
    assert content["characters"][0]["clothing"] == ["red coat", "school uniform"]
    assert [s["id"] for s in content["scenes"]] == ["SCN-001", "SCN-002"]
    assert [s["id"] for s in content["shots"]] == ["SHT-001-01", "SHT-001-02", "SHT-001-03", "SHT-002-01"]
    assert [s["preset"] for s in content["shots"]] == [
        "Establishing Extreme Wide",
        "Tracking Walk And Talk",
        "Close-Up",
        "Crane Up Reveal",
    ]
    applied = api.admin.post(f"/api/breakdowns/{draft['id']}/apply", json={"revision": draft["revision"]})
    assert applied.status_code == 200, applied.text
    shots = api.admin.get(f"/api/projects/{project['id']}/shots", params={"sort": "order"}).json()["items"]
    assert [s["duration_frames"] for s in shots] == [96, 72, 60, 120]
    assert SECRET not in setup.server.log()


def test_broken_json_is_sent_back_and_retried(setup: LlmServer) -> None:
    api, llm = setup.api, setup.llm.llm
    project = api.project()
    llm.script(BROKEN_JSON)
    response = api.admin.post(f"/api/projects/{project['id']}/breakdowns", json={"text": PROSE})
    assert response.status_code == 201, response.text
    assert response.json()["engine_detail"]["attempts"] == [2, 1]
    retry = llm.requests[1]["body"]["messages"]
    assert [m["role"] for m in retry] == ["system", "user", "assistant", "user"]
    assert retry[2]["content"] == BROKEN_JSON.content
    assert "is not valid JSON" in retry[3]["content"]


def test_schema_violations_every_time_are_a_clear_error_and_nothing_is_stored(setup: LlmServer) -> None:
    api, llm = setup.api, setup.llm.llm
    project = api.project()
    llm.script(SCHEMA_VIOLATION, SCHEMA_VIOLATION, SCHEMA_VIOLATION)
    refused = api.admin.post(f"/api/projects/{project['id']}/breakdowns", json={"text": PROSE})
    body = assert_problem(refused, 502, "text")
    assert (
        body["llm_error"] == "invalid" and body["part"] == 1 and body["parts"] == 2 and body["attempts"] == 3
    )
    assert (
        "still invalid after 3 attempts" in body["detail"] and "does not match the schema" in body["detail"]
    )
    assert "nothing was stored" in body["detail"]
    assert len(llm.requests) == 3
    _nothing_stored(api, project["id"])


def test_a_failure_in_a_later_part_stores_nothing_either(setup: LlmServer) -> None:
    api, llm = setup.api, setup.llm.llm
    project = api.project()
    # Part 1 answers from its fixture; part 2 names a character it never lists, three times.
    bad = json.dumps(
        {
            "characters": [],
            "environments": [],
            "scenes": [{"number": 1, "name": "x", "description": "", "environment_ref": ""}],
            "shots": [
                {
                    "scene": 1,
                    "shot_number": 1,
                    "description": "",
                    "action": "",
                    "dialogue": "",
                    "characters": [{"name": "Ghost", "clothing": ""}],
                    "suggested_camera": "",
                    "suggested_duration": 2,
                    "environment_ref": "",
                }
            ],
        }
    )
    first = next(f for f in llm.fixtures if f["match"] in PROSE)
    llm.script(Reply(json.dumps(first["reply"])), Reply(bad), Reply(bad), Reply(bad))
    refused = api.admin.post(f"/api/projects/{project['id']}/breakdowns", json={"text": PROSE})
    body = assert_problem(refused, 502, "text")
    assert body["part"] == 2 and "'Ghost' is not in 'characters'" in body["detail"]
    _nothing_stored(api, project["id"])


def test_a_refusal_is_reported_as_such(setup: LlmServer) -> None:
    api, llm = setup.api, setup.llm.llm
    project = api.project()
    llm.script(REFUSAL)
    body = assert_problem(
        api.admin.post(f"/api/projects/{project['id']}/breakdowns", json={"text": PROSE}), 502
    )
    assert body["llm_error"] == "refused" and "refused to break down part 1" in body["detail"]
    assert len(llm.requests) == 1  # a refusal is not retried
    _nothing_stored(api, project["id"])


def test_a_stalled_llm_times_out_with_504_and_the_setting_to_change(setup: LlmServer) -> None:
    api, llm = setup.api, setup.llm.llm
    project = api.project()
    llm.script(Stall(TIMEOUT_S + 1.5))
    body = assert_problem(
        api.admin.post(f"/api/projects/{project['id']}/breakdowns", json={"text": PROSE}), 504
    )
    assert body["llm_error"] == "timeout" and "AIPIPE_LLM_TIMEOUT_S" in body["detail"]
    assert f"within {TIMEOUT_S:g} s" in body["detail"]
    _nothing_stored(api, project["id"])


def test_endpoint_errors_are_named(setup: LlmServer) -> None:
    api, llm = setup.api, setup.llm.llm
    project = api.project()
    llm.script(HttpError(401, "Incorrect API key provided"))
    body = assert_problem(
        api.admin.post(f"/api/projects/{project['id']}/breakdowns", json={"text": PROSE}), 502
    )
    assert "refused the API key" in body["detail"] and SECRET not in json.dumps(body)
    llm.script(HttpError(500, "model crashed"))
    body = assert_problem(
        api.admin.post(f"/api/projects/{project['id']}/breakdowns", json={"text": PROSE}), 502
    )
    assert "HTTP 500" in body["detail"] and "model crashed" in body["detail"]


def test_a_new_template_version_is_used_and_recorded(setup: LlmServer) -> None:
    api, llm = setup.api, setup.llm.llm
    before = api.admin.get("/api/breakdown/templates").json()
    system_versions = [t["version"] for t in before if t["name"] == "breakdown.system"]
    created = api.admin.post(
        "/api/breakdown/templates",
        json={
            "name": "breakdown.system",
            "body": "You are a careful AD. Reply with JSON only.",
            "note": "shorter",
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["version"] == max(system_versions) + 1
    project = api.project()
    draft = api.admin.post(f"/api/projects/{project['id']}/breakdowns", json={"text": PROSE}).json()
    assert draft["template_version"] == created.json()["version"]
    assert llm.requests[-1]["body"]["messages"][0]["content"] == "You are a careful AD. Reply with JSON only."
    editor = api.user("editor")
    assert_problem(editor.post("/api/breakdown/templates", json={"name": "breakdown.user", "body": "x"}), 403)


SHORT_SCRIPT = """Title: The Radio
Author: Hana Seo
Draft date: 2 December 2026

INT. THEO'S BEDROOM - NIGHT (1973)

Theo turns the dial.

MAYA (V.O.)
Can you hear me?
"""


def test_llm_drafts_keep_the_title_page_and_follow_the_cue_rules(setup: LlmServer) -> None:
    api, llm = setup.api, setup.llm.llm
    project = api.project()

    def character(name: str) -> dict[str, object]:
        return {"name": name, "aliases": [], "description": "", "clothing": [], "role": ""}

    reply = {
        "characters": [character("THEO"), character("MAYA (V.O.)")],
        "environments": [
            {"id": "E1", "location": "Theo's bedroom", "time_of_day": "night", "weather": "", "mood": ""}
        ],
        "scenes": [{"number": 1, "name": "Theo's bedroom", "description": "", "environment_ref": "E1"}],
        "shots": [
            {
                "scene": 1,
                "shot_number": 1,
                "description": "Theo at the radio",
                "action": "Theo turns the dial.",
                "dialogue": "MAYA (V.O.): Can you hear me?",
                "characters": [{"name": "THEO", "clothing": ""}, {"name": "MAYA (V.O.)", "clothing": ""}],
                "suggested_camera": "medium close-up",
                "suggested_duration": 3,
                "environment_ref": "E1",
            }
        ],
    }
    llm.script(Reply(json.dumps(reply)))
    response = api.admin.post(
        f"/api/projects/{project['id']}/breakdowns",
        json={"text": SHORT_SCRIPT, "engine": "llm", "format": "fountain"},
    )
    assert response.status_code == 201, response.text
    content = response.json()["content"]
    assert len(llm.requests) == 1
    assert content["title"] == "The Radio"
    page = content["title_page"]
    assert (page["title"], page["author"], page["draft_date"]) == ("The Radio", "Hana Seo", "2 December 2026")
    assert [c["name"] for c in content["characters"]] == ["Theo", "Maya"]
    # Maya is heard in voice-over: the shot's only subject is Theo.
    assert [s["character_ref"] for s in content["shots"][0]["subjects"]] == ["CHR-001"]
