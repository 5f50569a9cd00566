"""The shot list: paging, sorting, filters, order, locks, the status workflow and the records shots use."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.api import Api, assert_problem


def _get(client: httpx.Client, path: str, **params: Any) -> dict[str, Any]:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _patch(client: httpx.Client, shot: dict[str, Any], **changes: Any) -> httpx.Response:
    return client.patch(f"/api/shots/{shot['id']}", json={**changes, "revision": shot["revision"]})


def _listing(api: Api, project_id: str, **params: Any) -> list[dict[str, Any]]:
    return _get(api.admin, f"/api/projects/{project_id}/shots", limit=5000, **params)["items"]


def _codes(api: Api, project_id: str, **params: Any) -> list[str]:
    return [s["code"] for s in _listing(api, project_id, **params)]


def _character(api: Api, project_id: str, name: str, **fields: Any) -> dict[str, Any]:
    response = api.admin.post(f"/api/projects/{project_id}/characters", json={"name": name, **fields})
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture
def cut(api: Api) -> dict[str, Any]:
    """A project with one scene and four draft shots A..D in that order, with the server's default codes."""
    project = api.project()
    scene = api.scene(project["id"])
    shots = [api.shot(project["id"], scene["id"]) for _ in "ABCD"]
    codes = [s["code"] for s in shots]
    assert codes == sorted(codes) and len(set(codes)) == 4
    return {"project": project, "scene": scene, "shots": shots, "pid": project["id"], "codes": codes}


@pytest.fixture(scope="module")
def people(api: Api) -> Iterator[dict[str, httpx.Client]]:
    clients = {role: api.user(role) for role in ("director", "editor", "artist")}
    yield clients
    for client in clients.values():
        client.close()


# -- paging, sorting, filtering ------------------------------------------------------------------------


def test_pages_cover_the_list_once_in_order_and_report_the_total(api: Api) -> None:
    project = api.project()
    scene = api.scene(project["id"])
    made = [api.shot(project["id"], scene["id"])["code"] for _ in range(5)]
    path = f"/api/projects/{project['id']}/shots"
    pages = [_get(api.admin, path, limit=2, offset=offset) for offset in (0, 2, 4)]
    assert [len(p["items"]) for p in pages] == [2, 2, 1]
    assert all(p["total"] == 5 and p["limit"] == 2 for p in pages)
    assert [p["offset"] for p in pages] == [0, 2, 4]
    assert [s["code"] for p in pages for s in p["items"]] == made
    past_the_end = _get(api.admin, path, limit=2, offset=10)
    assert past_the_end["items"] == [] and past_the_end["total"] == 5
    assert_problem(api.admin.get(path, params={"limit": 0}), 422, field="limit")
    assert_problem(api.admin.get(path, params={"offset": -1}), 422, field="offset")


def test_sort_by_descending_code_and_an_unknown_sort_field_is_refused_naming_sort(
    api: Api, cut: dict[str, Any]
) -> None:
    a, b, c, d = cut["codes"]
    assert _codes(api, cut["pid"], sort="-code") == [d, c, b, a]
    assert _codes(api, cut["pid"], sort="code") == [a, b, c, d]
    assert _codes(api, cut["pid"], sort="-order") == [d, c, b, a]
    body = assert_problem(
        api.admin.get(f"/api/projects/{cut['pid']}/shots", params={"sort": "-colour"}), 422, field="sort"
    )
    assert "colour" in body["detail"]


def test_filters_by_status_scene_character_and_text_including_korean(api: Api, cut: dict[str, Any]) -> None:
    pid = cut["pid"]
    a, b, c, d = cut["shots"]
    other_scene = api.scene(pid)
    rina = _character(api, pid, "리나")
    assert _patch(api.admin, a, status="ready").status_code == 200
    assert _patch(api.admin, b, status="omitted").status_code == 200
    assert (
        _patch(
            api.admin, c, description="리나가 골목길을 달린다", subjects=[{"character_id": rina["id"]}]
        ).status_code
        == 200
    )
    e = api.shot(pid, other_scene["id"], dialogue="Where are you going?")

    assert _codes(api, pid, status=["ready", "omitted"]) == [a["code"], b["code"]]
    assert _codes(api, pid, status="draft") == [c["code"], d["code"], e["code"]]
    assert _codes(api, pid, scene_id=other_scene["id"]) == [e["code"]]
    assert _codes(api, pid, character_id=rina["id"]) == [c["code"]]
    assert _codes(api, pid, q="골목") == [c["code"]]
    assert _codes(api, pid, q="going") == [e["code"]]
    assert _codes(api, pid, q="없는말") == []
    assert _get(api.admin, f"/api/projects/{pid}/shots", status=["ready", "omitted"])["total"] == 2
    assert_problem(api.admin.get(f"/api/projects/{pid}/shots", params={"status": "lost"}), 422)
    assert d["code"] not in _codes(api, pid, character_id=rina["id"])


# -- order ---------------------------------------------------------------------------------------------


def _reorder(client: httpx.Client, pid: str, *shots: dict[str, Any]) -> httpx.Response:
    body = {"shots": [{"id": s["id"], "revision": s["revision"]} for s in shots]}
    return client.post(f"/api/projects/{pid}/shots/reorder", json=body)


def test_reorder_swaps_the_listed_shots_and_leaves_the_others_where_they_were(
    api: Api, cut: dict[str, Any]
) -> None:
    a, b, c, d = cut["shots"]
    response = _reorder(api.admin, cut["pid"], c, a)
    assert response.status_code == 200, response.text
    assert [s["id"] for s in response.json()] == [c["id"], a["id"]]
    listing = _listing(api, cut["pid"])
    assert [s["id"] for s in listing] == [c["id"], b["id"], a["id"], d["id"]]
    revisions = {s["id"]: s["revision"] for s in listing}
    assert revisions == {a["id"]: 2, b["id"]: 1, c["id"]: 2, d["id"]: 1}
    orders = {s["id"]: s["order"] for s in listing}
    assert orders[b["id"]] == b["order"] and orders[d["id"]] == d["order"]
    assert (orders[c["id"]], orders[a["id"]]) == (a["order"], c["order"])
    assert [s["code"] for s in listing] == [c["code"], b["code"], a["code"], d["code"]]  # codes stay


def test_a_reorder_with_one_stale_revision_is_refused_with_409_and_nothing_moves(
    api: Api, cut: dict[str, Any]
) -> None:
    a, b, c, d = cut["shots"]
    edited = _patch(api.admin, b, description="someone else edited B")
    assert edited.status_code == 200
    before = _listing(api, cut["pid"])
    body = assert_problem(_reorder(api.admin, cut["pid"], d, c, b, a), 409, field="revision")
    assert body["current"]["id"] == b["id"] and body["current"]["revision"] == 2
    assert _listing(api, cut["pid"]) == before


def test_a_new_shot_can_be_inserted_after_a_given_shot(api: Api, cut: dict[str, Any]) -> None:
    a, b, c, d = cut["shots"]
    inserted = api.shot(cut["pid"], cut["scene"]["id"], after_shot_id=a["id"])
    assert a["order"] < inserted["order"] < b["order"]
    assert inserted["code"] not in cut["codes"]
    ids = [s["id"] for s in _listing(api, cut["pid"])]
    assert ids == [a["id"], inserted["id"], b["id"], c["id"], d["id"]]
    at_the_end = api.shot(cut["pid"], cut["scene"]["id"])
    assert [s["id"] for s in _listing(api, cut["pid"])][-1] == at_the_end["id"]
    other_project = api.project()
    other_shot = api.shot(other_project["id"], api.scene(other_project["id"])["id"])
    refused = api.admin.post(
        f"/api/projects/{cut['pid']}/shots",
        json={"scene_id": cut["scene"]["id"], "after_shot_id": other_shot["id"]},
    )
    assert_problem(refused, 422, field="after_shot_id")


# -- locks ---------------------------------------------------------------------------------------------


def _lock(client: httpx.Client, shot: dict[str, Any], action: str = "lock") -> httpx.Response:
    return client.post(f"/api/shots/{shot['id']}/{action}", json={"revision": shot["revision"]})


def test_a_locked_shot_refuses_code_and_duration_changes_but_takes_description_edits(
    api: Api, cut: dict[str, Any], people: dict[str, httpx.Client]
) -> None:
    shot = cut["shots"][0]
    locked = _lock(people["director"], shot)
    assert locked.status_code == 200 and locked.json()["locked"] is True
    shot = locked.json()
    before = _get(api.admin, f"/api/shots/{shot['id']}")
    for change, field in [
        ({"code": shot["code"][:-1] + "5"}, "code"),
        ({"duration_frames": 12}, "duration_frames"),
    ]:
        assert_problem(_patch(people["editor"], shot, **change), 409, field=field)
        assert_problem(_patch(api.admin, shot, **change), 409, field=field)
    assert _get(api.admin, f"/api/shots/{shot['id']}") == before
    edited = _patch(people["artist"], shot, description="rain on the lens")
    assert edited.status_code == 200, edited.text
    assert edited.json()["description"] == "rain on the lens" and edited.json()["code"] == shot["code"]

    unlocked = _lock(people["director"], edited.json(), "unlock")
    assert unlocked.status_code == 200 and unlocked.json()["locked"] is False
    assert _patch(people["editor"], unlocked.json(), duration_frames=12).json()["duration_frames"] == 12


def test_a_locked_shot_cannot_be_moved_by_a_reorder(api: Api, cut: dict[str, Any]) -> None:
    a, b, _, _ = cut["shots"]
    a = _lock(api.admin, a).json()
    before = _listing(api, cut["pid"])
    body = assert_problem(_reorder(api.admin, cut["pid"], b, a), 409, field="shots")
    assert body["locked"] == [a["code"]]
    assert _listing(api, cut["pid"]) == before


def test_only_directors_and_admins_lock_and_unlock_shots(
    api: Api, cut: dict[str, Any], people: dict[str, httpx.Client]
) -> None:
    shot = cut["shots"][1]
    for role in ("editor", "artist"):
        body = assert_problem(_lock(people[role], shot), 403)
        assert "shot:approve" in body["required"]
    assert _get(api.admin, f"/api/shots/{shot['id']}")["locked"] is False
    shot = _lock(api.admin, shot).json()
    for role in ("editor", "artist"):
        assert_problem(_lock(people[role], shot, "unlock"), 403)
    assert _get(api.admin, f"/api/shots/{shot['id']}")["locked"] is True
    assert _lock(people["director"], shot, "unlock").json()["locked"] is False


# -- delete --------------------------------------------------------------------------------------------


def test_deleting_a_shot_that_is_not_a_draft_is_refused_suggesting_omitted(
    api: Api, cut: dict[str, Any]
) -> None:
    shot = _patch(api.admin, cut["shots"][0], status="ready").json()
    before = _get(api.admin, f"/api/shots/{shot['id']}")
    response = api.admin.delete(f"/api/shots/{shot['id']}", headers={"If-Match": f'"{shot["revision"]}"'})
    body = assert_problem(response, 409)
    assert "omitted" in body["detail"]
    assert _get(api.admin, f"/api/shots/{shot['id']}") == before
    a, b, c, d = cut["codes"]
    assert _codes(api, cut["pid"]) == [a, b, c, d]

    draft = cut["shots"][1]
    deleted = api.admin.delete(f"/api/shots/{draft['id']}", params={"revision": draft["revision"]})
    assert deleted.status_code == 204
    assert_problem(api.admin.get(f"/api/shots/{draft['id']}"), 404)
    assert _codes(api, cut["pid"]) == [a, c, d]


# -- status workflow -----------------------------------------------------------------------------------

# status -> the statuses it may move to next (the workflow as the team agreed it)
NEXT = {
    "draft": ["ready", "omitted"],
    "ready": ["draft", "generating", "review", "omitted"],
    "generating": ["ready", "review", "omitted"],
    "review": ["ready", "generating", "approved", "omitted"],
    "approved": ["review", "final", "omitted"],
    "final": ["approved"],
    "omitted": ["draft"],
}


def test_the_status_workflow_walks_from_draft_to_final_with_the_right_roles(
    api: Api, cut: dict[str, Any], people: dict[str, httpx.Client]
) -> None:
    artist, director = people["artist"], people["director"]
    shot = cut["shots"][0]
    assert shot["status"] == "draft" and sorted(shot["next_statuses"]) == sorted(NEXT["draft"])
    for status in ("ready", "generating", "review"):
        response = _patch(artist, shot, status=status)
        assert response.status_code == 200, response.text
        shot = response.json()
        assert shot["status"] == status and sorted(shot["next_statuses"]) == sorted(NEXT[status])

    refused = _patch(artist, shot, status="approved")
    assert "shot:approve" in assert_problem(refused, 403, field="status")["detail"]
    assert _get(api.admin, f"/api/shots/{shot['id']}")["status"] == "review"

    for status in ("approved", "final"):
        response = _patch(director, shot, status=status)
        assert response.status_code == 200, response.text
        shot = response.json()
        assert shot["status"] == status and sorted(shot["next_statuses"]) == sorted(NEXT[status])
    # Leaving an approved state needs the approve permission too.
    assert_problem(_patch(artist, shot, status="approved"), 403, field="status")
    assert_problem(_patch(director, shot, status="draft"), 409, field="status")
    assert _get(api.admin, f"/api/shots/{shot['id']}")["status"] == "final"


# -- subjects and the records shots use ----------------------------------------------------------------


def test_a_subjects_clothing_must_be_one_of_the_characters_clothing_options(
    api: Api, cut: dict[str, Any]
) -> None:
    rina = _character(api, cut["pid"], "Rina", clothing_options=["raincoat", "school uniform"])
    shot = cut["shots"][0]
    refused = _patch(api.admin, shot, subjects=[{"character_id": rina["id"], "clothing": "tuxedo"}])
    body = assert_problem(refused, 422, field="subjects.0.clothing")
    assert "raincoat" in body["detail"]
    assert _get(api.admin, f"/api/shots/{shot['id']}")["subjects"] == []
    accepted = _patch(api.admin, shot, subjects=[{"character_id": rina["id"], "clothing": "raincoat"}])
    assert accepted.status_code == 200
    assert accepted.json()["subjects"] == [{"character_id": rina["id"], "clothing": "raincoat"}]


def test_deleting_a_character_used_by_shots_is_refused_naming_the_shots(
    api: Api, cut: dict[str, Any]
) -> None:
    rina = _character(api, cut["pid"], "Rina")
    a, _, c, _ = cut["shots"]
    for shot in (c, a):
        assert _patch(api.admin, shot, subjects=[{"character_id": rina["id"]}]).status_code == 200
    before = _get(api.admin, f"/api/characters/{rina['id']}")
    response = api.admin.delete(f"/api/characters/{rina['id']}", params={"revision": rina["revision"]})
    body = assert_problem(response, 409)
    assert body["shots"] == [a["code"], c["code"]]
    assert a["code"] in body["detail"] and c["code"] in body["detail"]
    assert _get(api.admin, f"/api/characters/{rina['id']}") == before
    assert _codes(api, cut["pid"], character_id=rina["id"]) == [a["code"], c["code"]]


def test_built_in_presets_are_listed_for_every_project_read_only_and_clones_are_editable(api: Api) -> None:
    project = api.project()
    presets = _get(api.admin, f"/api/projects/{project['id']}/presets", limit=1000)["items"]
    builtins = [p for p in presets if p["builtin"]]
    assert len(builtins) >= 35 and all(p["project_id"] is None for p in builtins)
    assert len({p["name"] for p in builtins}) == len(builtins)
    source = builtins[0]
    path = f"/api/presets/{source['id']}"
    refused = api.admin.patch(path, json={"lens_mm": 85.0, "revision": source["revision"]})
    assert "clone" in assert_problem(refused, 409)["detail"]
    assert_problem(api.admin.delete(path, params={"revision": source["revision"]}), 409)
    assert _get(api.admin, path) == source

    cloned = api.admin.post(f"{path}/clone", json={"project_id": project["id"]})
    assert cloned.status_code == 201, cloned.text
    clone = cloned.json()
    assert clone["builtin"] is False and clone["project_id"] == project["id"] and clone["id"] != source["id"]
    edited = api.admin.patch(
        f"/api/presets/{clone['id']}", json={"lens_mm": 85.0, "revision": clone["revision"]}
    )
    assert edited.status_code == 200 and edited.json()["lens_mm"] == 85.0
    assert _get(api.admin, path)["lens_mm"] == source["lens_mm"]
    other = api.project()
    assert clone["id"] not in {
        p["id"] for p in _get(api.admin, f"/api/projects/{other['id']}/presets", limit=1000)["items"]
    }


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("23.976", "24000/1001"),
        ("29.97", "30000/1001"),
        ("25", "25"),
        ("24000/1001", "24000/1001"),
        (24, "24"),
    ],
)
def test_frame_rates_are_stored_as_exact_ratios(api: Api, given: Any, stored: str) -> None:
    project = api.project(fps=given)
    assert project["fps"] == stored
    assert _get(api.admin, f"/api/projects/{project['id']}")["fps"] == stored
    num, den = (int(x) for x in (stored.split("/") if "/" in stored else (stored, "1")))
    assert (project["fps_num"], project["fps_den"]) == (num, den)


def test_a_new_shot_lasts_three_seconds_at_the_project_frame_rate(api: Api) -> None:
    project = api.project(fps="25")
    scene = api.scene(project["id"])
    assert api.shot(project["id"], scene["id"])["duration_frames"] == 75
    ntsc = api.project(fps="29.97")
    assert api.shot(ntsc["id"], api.scene(ntsc["id"])["id"])["duration_frames"] == 90


def test_a_saved_shot_reads_back_exactly_as_the_server_returned_it(api: Api, cut: dict[str, Any]) -> None:
    """Including its timestamps: a client must not see UTC on save and a zone-less time on reload."""
    created = cut["shots"][0]
    assert _get(api.admin, f"/api/shots/{created['id']}") == created
    updated = _patch(api.admin, created, description="비").json()
    assert _get(api.admin, f"/api/shots/{created['id']}") == updated
    assert updated["created_at"].endswith(("Z", "+00:00"))
