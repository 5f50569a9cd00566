"""Hostile input never gets a 500: huge integers, deep JSON, NUL characters, files that are not timelines.

Each answer is a 4xx problem+json naming the field at fault, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.support.api import Api, assert_problem
from tests.support.media import png_bytes

HUGE = 2**63  # one past the largest 64-bit integer
INT4 = 2**31  # one past PostgreSQL's integer
DEEP = 5000


def _deep(depth: int = DEEP) -> str:
    return "[" * depth + "]" * depth


def _deep_object(depth: int = DEEP) -> Any:
    """A value nested `depth` levels, built without recursion."""
    return json.loads('{"a":' * depth + "1" + "}" * depth)


def _project_scene_shot(api: Api) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    project = api.project()
    scene = api.scene(project["id"])
    return project, scene, api.shot(project["id"], scene["id"])


def _post_json_text(client: httpx.Client, url: str, text: str) -> httpx.Response:
    return client.post(url, content=text.encode(), headers={"Content-Type": "application/json"})


# -- integers beyond the columns -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["offset", "limit"])
def test_a_paging_integer_beyond_64_bits_is_a_422_naming_it(api: Api, name: str) -> None:
    response = api.admin.get("/api/projects", params={name: str(HUGE)})
    assert_problem(response, 422, name)


def test_an_audit_after_id_beyond_64_bits_is_a_422_naming_it(api: Api) -> None:
    assert_problem(api.admin.get("/api/audit", params={"after_id": str(HUGE)}), 422, "after_id")
    assert_problem(api.admin.get("/api/audit", params={"after_id": str(-HUGE - 1)}), 422, "after_id")


@pytest.mark.parametrize("action", ["", "/undo", "/redo"])
def test_a_history_id_beyond_64_bits_is_a_422_naming_it(api: Api, action: str) -> None:
    call = api.admin.get if not action else api.admin.post
    assert_problem(call(f"/api/history/{HUGE}{action}"), 422, "change_set_id")


@pytest.mark.parametrize("value", [INT4, HUGE, -INT4 - 1])
def test_a_sort_order_beyond_the_column_is_a_422_naming_it_and_nothing_is_created(
    api: Api, value: int
) -> None:
    project = api.project()
    response = api.admin.post(f"/api/projects/{project['id']}/scenes", json={"sort_order": value})
    assert_problem(response, 422, "sort_order")
    assert api.admin.get(f"/api/projects/{project['id']}/scenes").json()["total"] == 0


def test_a_shot_edit_beyond_the_column_is_a_422_and_the_shot_is_unchanged(api: Api) -> None:
    _, _, shot = _project_scene_shot(api)
    response = api.admin.patch(
        f"/api/shots/{shot['id']}", json={"duration_frames": INT4, "revision": shot["revision"]}
    )
    assert response.status_code == 422, response.text
    assert api.admin.get(f"/api/shots/{shot['id']}").json()["duration_frames"] == shot["duration_frames"]


# -- JSON nested thousands deep ------------------------------------------------------------------------


def test_a_json_body_nested_5000_deep_is_a_422_naming_the_field(api: Api) -> None:
    _, _, shot = _project_scene_shot(api)
    text = '{"description": ' + _deep() + ', "revision": 1}'
    response = _post_json_text(api.admin, f"/api/projects/{shot['project_id']}/shots", text)
    assert_problem(response, 422, "description")


def test_provenance_nested_5000_deep_is_refused_naming_provenance(api: Api) -> None:
    _, _, shot = _project_scene_shot(api)
    response = api.admin.post(
        f"/api/shots/{shot['id']}/versions",
        data={"stage": "layout", "provenance": json.dumps({"x": 1})[:-1] + ', "deep": ' + _deep() + "}"},
        files=[("files", ("a.png", png_bytes(), "image/png"))],
    )
    assert_problem(response, 422, "provenance")
    assert api.admin.get(f"/api/shots/{shot['id']}/versions").json()["total"] == 0


def test_a_json_shot_list_nested_5000_deep_is_refused(api: Api) -> None:
    project, _, _ = _project_scene_shot(api)
    body = '{"shots": [{"id": "x", "description": ' + _deep() + "}]}"
    response = api.admin.post(
        f"/api/projects/{project['id']}/shotlist/import",
        files={"file": ("shots.json", body.encode(), "application/json")},
    )
    assert response.status_code != 500, response.text
    if response.status_code == 200:  # a preview shows a file it cannot read as a blocking problem
        preview = response.json()
        assert preview["can_apply"] is False and preview["rows_read"] == 0, preview
        assert any("JSON" in error["message"] for error in preview["errors"]), preview["errors"]
    else:
        assert 400 <= response.status_code < 500, response.text


def test_a_selection_nested_5000_deep_is_a_422_naming_selection(api: Api) -> None:
    project, _, _ = _project_scene_shot(api)
    shots = json.dumps({"shots": [{"code": "SHT_0990", "description": "x"}]}).encode()
    response = api.admin.post(
        f"/api/projects/{project['id']}/shotlist/apply",
        files={"file": ("shots.json", shots, "application/json")},
        data={"selection": '{"rows": ' + _deep() + "}"},
    )
    assert_problem(response, 422, "selection")


# -- editorial files that are not timelines ------------------------------------------------------------


@pytest.mark.parametrize("content", ["0", "null", "[]", '"x"', "{}", '{"OTIO_SCHEMA": "Nothing.1"}', _deep()])
def test_otio_content_that_is_not_a_timeline_is_a_422_naming_content(api: Api, content: str) -> None:
    project, _, _ = _project_scene_shot(api)
    response = api.admin.post(
        f"/api/projects/{project['id']}/editorial/import", json={"format": "otio", "content": content}
    )
    body = assert_problem(response, 422, "content")
    assert "Timeline" in body["detail"] or "nested" in body["detail"], body


@pytest.mark.parametrize("name", ["../../etc/passwd", "..", "SHT_0010/../../x", "..\\..\\x"])
def test_an_edl_whose_clip_name_climbs_out_is_refused_or_renamed_never_a_500(api: Api, name: str) -> None:
    project, _, _ = _project_scene_shot(api)
    edl = (
        "TITLE: hostile\nFCM: NON-DROP FRAME\n\n"
        "001  AX       V     C        00:00:00:00 00:00:02:00 01:00:00:00 01:00:02:00\n"
        f"* FROM CLIP NAME: {name}\n"
    )
    response = api.admin.post(
        f"/api/projects/{project['id']}/editorial/import",
        json={"format": "cmx_3600", "content": edl, "apply": True},
    )
    assert response.status_code != 500, response.text
    if response.status_code < 400:
        codes = [s["code"] for s in api.admin.get(f"/api/projects/{project['id']}/shots").json()["items"]]
        assert not any(".." in code or "/" in code or "\\" in code for code in codes), codes
    else:
        assert_problem(response, response.status_code, "content")


# -- NUL characters (PostgreSQL cannot store them; SQLite must refuse them the same way) -----------------


@pytest.mark.parametrize("field", ["description", "action", "dialogue"])
def test_a_nul_in_a_shot_text_field_is_a_422_naming_it(api: Api, field: str) -> None:
    project, scene, _ = _project_scene_shot(api)
    response = api.admin.post(
        f"/api/projects/{project['id']}/shots", json={"scene_id": scene["id"], field: "a\u0000b"}
    )
    assert_problem(response, 422, field)


def test_a_nul_in_a_project_name_is_a_422_and_no_project_is_made(api: Api) -> None:
    before = api.admin.get("/api/projects").json()["total"]
    response = api.admin.post("/api/projects", json={"code": "NUL1", "name": "x\u0000y"})
    assert_problem(response, 422, "name")
    assert api.admin.get("/api/projects").json()["total"] == before


def test_a_nul_in_a_search_is_a_422_naming_q(api: Api) -> None:
    project, _, _ = _project_scene_shot(api)
    response = api.admin.get(f"/api/projects/{project['id']}/shots", params={"q": "a\x00"})
    assert_problem(response, 422, "q")


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"comment": "see\u0000this"}, "comment"),
        ({"provenance": json.dumps({"prompt": "a\u0000b"})}, "provenance.prompt"),
    ],
)
def test_a_nul_in_a_version_comment_or_provenance_is_a_422_naming_it(
    api: Api, fields: dict[str, str], named: str
) -> None:
    _, _, shot = _project_scene_shot(api)
    response = api.admin.post(
        f"/api/shots/{shot['id']}/versions",
        data={"stage": "layout", **fields},
        files=[("files", ("a.png", png_bytes(), "image/png"))],
    )
    assert_problem(response, 422, named)
    assert api.admin.get(f"/api/shots/{shot['id']}/versions").json()["total"] == 0


def test_a_nul_in_a_review_comment_is_a_422_naming_it(api: Api) -> None:
    _, _, shot = _project_scene_shot(api)
    version = api.admin.post(
        f"/api/shots/{shot['id']}/versions",
        data={"stage": "layout"},
        files=[("files", ("a.png", png_bytes(), "image/png"))],
    ).json()
    response = api.admin.post(f"/api/versions/{version['id']}/reviews", json={"comment": "ok\u0000"})
    assert response.status_code == 422, response.text
    assert "comment" in response.text
