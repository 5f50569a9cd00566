"""Bad input is refused with a problem+json that names the field, and never changes what is stored."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.api import Api, assert_problem

MAX_BODY_BYTES = 2 * 1024 * 1024  # the server's default `max_body_bytes`


def _get(api: Api, path: str) -> dict[str, Any]:
    response = api.admin.get(path)
    assert response.status_code == 200, response.text
    return response.json()


def assert_unchanged(api: Api, path: str, before: dict[str, Any]) -> None:
    """Re-read the record: every field, revision included, is as it was before the refused request."""
    assert _get(api, path) == before


def _project_count(api: Api, code: str) -> int:
    return _get(api, f"/api/projects?q={code}")["total"]


@pytest.fixture
def shot(api: Api) -> dict[str, Any]:
    project = api.project()
    scene = api.scene(project["id"])
    created = api.shot(project["id"], scene["id"], description="before")
    return _get(api, f"/api/shots/{created['id']}")


# -- unknown fields and wrong types --------------------------------------------------------------------


def test_an_unknown_field_is_refused_with_422_naming_it_and_nothing_is_created_or_changed(
    api: Api, shot: dict[str, Any]
) -> None:
    code = f"U{uuid.uuid4().hex[:10]}"
    created = api.admin.post("/api/projects", json={"code": code, "name": "n", "frame_rate": 24})
    assert_problem(created, 422, field="frame_rate")
    assert _project_count(api, code) == 0

    path = f"/api/shots/{shot['id']}"
    patched = api.admin.patch(path, json={"description": "after", "colour": "red", "revision": 1})
    assert_problem(patched, 422, field="colour")
    assert_unchanged(api, path, shot)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("duration_frames", "48"),  # a string where a number belongs is not coerced
        ("duration_frames", 48.5),
        ("handle_in", True),
        ("description", 5),  # a number where text belongs
        ("code", 10),
        ("subjects", "Rina"),
        ("status", ["ready"]),
    ],
)
def test_a_value_of_the_wrong_type_is_refused_with_422_naming_the_field(
    api: Api, shot: dict[str, Any], field: str, value: Any
) -> None:
    path = f"/api/shots/{shot['id']}"
    assert_problem(api.admin.patch(path, json={field: value, "revision": 1}), 422, field=field)
    assert_unchanged(api, path, shot)


@pytest.mark.parametrize(
    ("field", "value"), [("width", "1920"), ("height", 1080.0), ("name", 123), ("handle_in", "0")]
)
def test_a_project_with_a_wrong_type_is_not_created(api: Api, field: str, value: Any) -> None:
    code = f"T{uuid.uuid4().hex[:10]}"
    response = api.admin.post("/api/projects", json={"code": code, "name": "n", field: value})
    assert_problem(response, 422, field=field)
    assert _project_count(api, code) == 0


@pytest.mark.parametrize("field", ["code", "name", "width"])
def test_null_for_a_project_field_that_cannot_be_empty_is_refused_with_422_naming_it(
    api: Api, field: str
) -> None:
    project = api.project()
    path = f"/api/projects/{project['id']}"
    before = _get(api, path)
    with api.client() as client:  # its own connection: a server error must not break the shared one
        response = client.patch(path, json={field: None, "revision": before["revision"]})
    assert_problem(response, 422, field=field)
    assert_unchanged(api, path, before)


@pytest.mark.parametrize("field", ["name", "clothing_options"])
def test_null_for_a_character_field_that_cannot_be_empty_is_refused_with_422_naming_it(
    api: Api, field: str
) -> None:
    project = api.project()
    character = api.admin.post(f"/api/projects/{project['id']}/characters", json={"name": "Rina"}).json()
    path = f"/api/characters/{character['id']}"
    before = _get(api, path)
    with api.client() as client:
        response = client.patch(path, json={field: None, "revision": 1})
    assert_problem(response, 422, field=field)
    assert_unchanged(api, path, before)


# -- body size -----------------------------------------------------------------------------------------


def _oversize_project_body(code: str) -> bytes:
    return json.dumps({"code": code, "name": "x", "description": "あ" * (MAX_BODY_BYTES // 3 + 10)}).encode()


def test_a_body_over_the_limit_with_content_length_is_refused_with_413(api: Api) -> None:
    code = f"B{uuid.uuid4().hex[:10]}"
    body = _oversize_project_body(code)
    assert len(body) > MAX_BODY_BYTES
    with api.client() as client:
        response = client.post("/api/projects", content=body, headers={"Content-Type": "application/json"})
    assert_problem(response, 413)
    assert _project_count(api, code) == 0


def test_a_chunked_body_over_the_limit_without_content_length_is_refused_with_413(api: Api) -> None:
    code = f"C{uuid.uuid4().hex[:10]}"
    body = _oversize_project_body(code)

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    with api.client() as client:
        request = client.build_request(
            "POST", "/api/projects", content=chunks(), headers={"Content-Type": "application/json"}
        )
        assert "content-length" not in request.headers and request.headers["transfer-encoding"] == "chunked"
        response = client.send(request)
    assert_problem(response, 413)
    assert _project_count(api, code) == 0


def test_the_longest_allowed_multibyte_description_is_kept_and_one_more_character_is_refused(
    api: Api,
) -> None:
    project = api.project()
    path = f"/api/projects/{project['id']}"
    longest = "가" * 20000  # the documented limit for long text, in 3-byte characters
    response = api.admin.patch(path, json={"description": longest, "revision": 1})
    assert response.status_code == 200, response.text
    before = _get(api, path)
    assert before["description"] == longest
    assert_problem(
        api.admin.patch(path, json={"description": longest + "가", "revision": 2}), 422, "description"
    )
    assert_unchanged(api, path, before)


# -- workflow, uniqueness and references ---------------------------------------------------------------


def test_an_invalid_status_jump_is_refused_with_409_listing_the_allowed_statuses(
    api: Api, shot: dict[str, Any]
) -> None:
    path = f"/api/shots/{shot['id']}"
    body = assert_problem(
        api.admin.patch(path, json={"status": "approved", "revision": 1}), 409, field="status"
    )
    assert sorted(body["allowed"]) == ["omitted", "ready"]
    assert sorted(body["allowed"]) == sorted(shot["next_statuses"])
    assert_unchanged(api, path, shot)


def test_a_duplicate_code_is_refused_with_409_naming_code_whatever_its_case(api: Api) -> None:
    project = api.project()
    assert_problem(
        api.admin.post("/api/projects", json={"code": project["code"].lower(), "name": "n"}), 409, "code"
    )

    scene = api.scene(project["id"])
    first = api.shot(project["id"], scene["id"])
    second = api.shot(project["id"], scene["id"])
    assert_problem(
        api.admin.post(
            f"/api/projects/{project['id']}/shots", json={"scene_id": scene["id"], "code": first["code"]}
        ),
        409,
        field="code",
    )
    path = f"/api/shots/{second['id']}"
    before = _get(api, path)
    assert_problem(api.admin.patch(path, json={"code": first["code"], "revision": 1}), 409, field="code")
    assert_unchanged(api, path, before)
    codes = [s["code"] for s in _get(api, f"/api/projects/{project['id']}/shots")["items"]]
    assert codes == [first["code"], second["code"]]


def test_references_to_another_projects_scene_or_character_are_refused_with_422_naming_the_field(
    api: Api, shot: dict[str, Any]
) -> None:
    other = api.project()
    other_scene = api.scene(other["id"])
    other_character = api.admin.post(
        f"/api/projects/{other['id']}/characters", json={"name": "Stranger"}
    ).json()
    other_environment = api.admin.post(
        f"/api/projects/{other['id']}/environments", json={"name": "Far"}
    ).json()
    pid, path = shot["project_id"], f"/api/shots/{shot['id']}"

    created = api.admin.post(f"/api/projects/{pid}/shots", json={"scene_id": other_scene["id"]})
    assert_problem(created, 422, field="scene_id")
    created = api.admin.post(
        f"/api/projects/{pid}/shots",
        json={"scene_id": shot["scene_id"], "subjects": [{"character_id": other_character["id"]}]},
    )
    assert_problem(created, 422, field="subjects.0.character_id")
    assert _get(api, f"/api/projects/{pid}/shots")["total"] == 1

    for body, field in [
        ({"scene_id": other_scene["id"]}, "scene_id"),
        ({"environment_id": other_environment["id"]}, "environment_id"),
        ({"subjects": [{"character_id": other_character["id"], "clothing": ""}]}, "subjects.0.character_id"),
    ]:
        assert_problem(api.admin.patch(path, json={**body, "revision": 1}), 422, field=field)
    assert_unchanged(api, path, shot)


@pytest.mark.parametrize(
    "raw_fps", ['"abc"', "0", "-24", '"-24"', '"24/0"', '""', "1e999"], ids=lambda raw: f"fps={raw}"
)
def test_a_bad_frame_rate_is_refused_with_422_naming_fps(api: Api, raw_fps: str) -> None:
    code = f"F{uuid.uuid4().hex[:10]}"
    raw = f'{{"code": "{code}", "name": "n", "fps": {raw_fps}}}'
    with api.client() as client:
        response = client.post("/api/projects", content=raw, headers={"Content-Type": "application/json"})
    assert_problem(response, 422, field="fps")
    assert _project_count(api, code) == 0


@pytest.mark.parametrize("fps", ["abc", 0, -24])
def test_a_bad_frame_rate_leaves_the_project_unchanged(api: Api, fps: Any) -> None:
    project = api.project(fps="25")
    path = f"/api/projects/{project['id']}"
    before = _get(api, path)
    assert_problem(api.admin.patch(path, json={"fps": fps, "revision": 1}), 422, field="fps")
    assert_unchanged(api, path, before)


# -- text round trips ----------------------------------------------------------------------------------

KOREAN = ["리나", "골목길", "비 오는 밤 🌧️🎬", "Cafe\u0301 \u1100\u1161\u11a8 (NFD)", "👩🏽‍🚀 우주"]


def _same_bytes(a: str, b: str) -> bool:
    return a.encode("utf-8") == b.encode("utf-8")


@pytest.mark.parametrize("name", KOREAN, ids=["rina", "alley", "emoji", "combining", "zwj"])
def test_korean_emoji_and_combining_text_round_trips_byte_for_byte(api: Api, name: str) -> None:
    project = api.project(name=name)
    scene = api.scene(project["id"], name=name)
    character = api.admin.post(
        f"/api/projects/{project['id']}/characters", json={"name": name, "clothing_options": [name]}
    ).json()
    shot = api.shot(
        project["id"],
        scene["id"],
        description=name,
        dialogue=name,
        subjects=[{"character_id": character["id"], "clothing": name}],
    )
    for path, fields in [
        (f"/api/projects/{project['id']}", ("name",)),
        (f"/api/scenes/{scene['id']}", ("name",)),
        (f"/api/characters/{character['id']}", ("name",)),
        (f"/api/shots/{shot['id']}", ("description", "dialogue")),
    ]:
        got = _get(api, path)
        assert all(_same_bytes(got[f], name) for f in fields), got
    assert _same_bytes(_get(api, f"/api/shots/{shot['id']}")["subjects"][0]["clothing"], name)
    assert _same_bytes(_get(api, f"/api/characters/{character['id']}")["clothing_options"][0], name)

    listed = _get(api, f"/api/projects/{project['id']}/characters")["items"]
    assert [c["name"].encode() for c in listed] == [name.encode()]
    shots = _get(api, f"/api/projects/{project['id']}/shots")["items"]
    assert [s["description"].encode() for s in shots] == [name.encode()]
    projects = _get(api, f"/api/projects?q={project['code']}")
    assert [p["name"].encode() for p in projects["items"]] == [name.encode()]

    renamed = name[::-1] + " 수정"
    updated = api.admin.patch(f"/api/shots/{shot['id']}", json={"description": renamed, "revision": 1})
    assert updated.status_code == 200, updated.text
    assert _same_bytes(updated.json()["description"], renamed)
    assert _same_bytes(_get(api, f"/api/shots/{shot['id']}")["description"], renamed)
    character_update = api.admin.patch(
        f"/api/characters/{character['id']}", json={"name": renamed, "revision": 1}
    )
    assert character_update.status_code == 200 and _same_bytes(character_update.json()["name"], renamed)


# -- revisions -----------------------------------------------------------------------------------------


def test_a_stale_revision_is_refused_with_409_and_the_current_record(api: Api, shot: dict[str, Any]) -> None:
    path = f"/api/shots/{shot['id']}"
    first = api.admin.patch(path, json={"description": "mine", "revision": 1})
    assert first.status_code == 200 and first.json()["revision"] == 2
    current = _get(api, path)
    body = assert_problem(
        api.admin.patch(path, json={"description": "theirs", "revision": 1}), 409, "revision"
    )
    assert body["current"]["revision"] == 2 and body["current"]["description"] == "mine"
    assert_unchanged(api, path, current)


def test_a_patch_without_a_revision_is_refused_with_428_naming_revision(
    api: Api, shot: dict[str, Any]
) -> None:
    path = f"/api/shots/{shot['id']}"
    assert_problem(api.admin.patch(path, json={"description": "after"}), 428, field="revision")
    assert_unchanged(api, path, shot)
    project_path = f"/api/projects/{shot['project_id']}"
    project = _get(api, project_path)
    assert_problem(api.admin.patch(project_path, json={"name": "after"}), 428, field="revision")
    assert_unchanged(api, project_path, project)


def test_an_if_match_header_can_carry_the_revision_instead_of_the_body(
    api: Api, shot: dict[str, Any]
) -> None:
    path = f"/api/shots/{shot['id']}"
    assert api.admin.get(path).headers["ETag"] == '"1"'
    updated = api.admin.patch(path, json={"description": "via header"}, headers={"If-Match": '"1"'})
    assert updated.status_code == 200, updated.text
    assert updated.json()["revision"] == 2
    current = _get(api, path)
    stale = api.admin.patch(path, json={"description": "stale"}, headers={"If-Match": '"1"'})
    assert_problem(stale, 409, field="revision")
    assert_unchanged(api, path, current)
    weak = api.admin.patch(path, json={"description": "weak etag"}, headers={"If-Match": 'W/"2"'})
    assert weak.status_code == 200 and weak.json()["revision"] == 3


def test_a_body_revision_and_if_match_that_disagree_are_refused_with_422(
    api: Api, shot: dict[str, Any]
) -> None:
    path = f"/api/shots/{shot['id']}"
    response = api.admin.patch(
        path, json={"description": "after", "revision": 1}, headers={"If-Match": '"2"'}
    )
    assert_problem(response, 422, field="revision")
    assert_problem(
        api.admin.patch(path, json={"description": "after"}, headers={"If-Match": "latest"}),
        422,
        field="If-Match",
    )
    assert_unchanged(api, path, shot)


def test_an_if_match_of_thousands_of_digits_is_refused_with_422(api: Api, shot: dict[str, Any]) -> None:
    path = f"/api/shots/{shot['id']}"
    # Python's int() refuses more than 4,300 digits: the header must be refused before it gets there.
    huge = '"' + "9" * 5000 + '"'
    response = api.admin.patch(path, json={"description": "after"}, headers={"If-Match": huge})
    assert_problem(response, 422, field="If-Match")
    assert_unchanged(api, path, shot)
