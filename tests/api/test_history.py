"""Change history: every edit is a change set (who, when, fields before and after); undo / redo."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.api import Api, assert_problem


def _patch(client: httpx.Client, shot_id: str, **changes: Any) -> dict[str, Any]:
    current = client.get(f"/api/shots/{shot_id}").json()
    response = client.patch(f"/api/shots/{shot_id}", json={**changes, "revision": current["revision"]})
    assert response.status_code == 200, response.text
    return response.json()


def _shot(api: Api, shot_id: str) -> dict[str, Any]:
    response = api.admin.get(f"/api/shots/{shot_id}")
    assert response.status_code == 200, response.text
    return response.json()


def _history(client: httpx.Client, path: str) -> list[dict[str, Any]]:
    response = client.get(path, params={"limit": 500})
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_an_edit_is_a_change_set_with_who_and_the_fields_before_and_after(api: Api) -> None:
    project = api.project()
    scene = api.scene(project["id"])
    shot = api.shot(project["id"], scene["id"], description="rain")
    _patch(api.admin, shot["id"], description="snow", dialogue="Hello")
    newest = _history(api.admin, f"/api/projects/{project['id']}/history")[0]
    assert newest["kind"] == "edit" and newest["state"] == "applied"
    assert newest["actor_name"] == "admin_test" and newest["at"]
    [item] = newest["items"]
    assert item["entity"] == "shot" and item["entity_id"] == shot["id"] and item["label"] == shot["code"]
    assert item["changes"] == {"description": ["rain", "snow"], "dialogue": ["", "Hello"]}
    per_shot = _history(api.admin, f"/api/shots/{shot['id']}/history")
    assert [cs["id"] for cs in per_shot][:1] == [newest["id"]]
    assert per_shot[-1]["items"][0]["action"] == "created"


def test_undo_and_redo_55_steps_walk_the_shot_back_and_forward(api: Api) -> None:
    project = api.project()
    scene = api.scene(project["id"])
    shot = api.shot(project["id"], scene["id"], description="v0")
    pid = project["id"]
    for step in range(1, 56):
        _patch(api.admin, shot["id"], description=f"v{step}")
    for step in range(54, -1, -1):
        response = api.admin.post(f"/api/projects/{pid}/history/undo", json={})
        assert response.status_code == 200, response.text
        assert _shot(api, shot["id"])["description"] == f"v{step}"
    # The creation of the shot is the next edit to undo; the 55 edits are all undone.
    undone = [cs for cs in _history(api.admin, f"/api/projects/{pid}/history") if cs["state"] == "undone"]
    assert len(undone) == 55
    for step in range(1, 56):
        response = api.admin.post(f"/api/projects/{pid}/history/redo", json={})
        assert response.status_code == 200, response.text
        assert response.json()["change_set"]["kind"] == "redo"
        assert _shot(api, shot["id"])["description"] == f"v{step}"
    assert_problem(api.admin.post(f"/api/projects/{pid}/history/redo", json={}), 409, field="project_id")


def test_undo_is_refused_naming_the_later_edit_that_touched_the_same_field(api: Api) -> None:
    project = api.project()
    scene = api.scene(project["id"])
    shot = api.shot(project["id"], scene["id"], description="first")
    alice, bob = api.user("artist"), api.user("artist")
    try:
        _patch(alice, shot["id"], description="alice's")
        _patch(bob, shot["id"], description="bob's", dialogue="bob's line")
        _patch(bob, shot["id"], camera_notes="bob's notes")
        pid = project["id"]
        # Alice's own newest edit is under Bob's: refused with the reason, nothing changed.
        body = assert_problem(
            alice.post(f"/api/projects/{pid}/history/undo", json={"mine": True}), 409, field="id"
        )
        assert "later changed shot" in body["detail"] and "description" in body["detail"]
        assert body["fields"] == ["description"]
        assert _shot(api, shot["id"])["description"] == "bob's"
        # Undoing Bob's description edit first makes Alice's undoable; an unrelated field does not block.
        blocking = body["blocking_change_set"]
        assert alice.post(f"/api/history/{blocking}/undo").status_code == 200
        assert _shot(api, shot["id"])["camera_notes"] == "bob's notes"
        undone = alice.post(f"/api/projects/{pid}/history/undo", json={"mine": True})
        assert undone.status_code == 200, undone.text
        assert _shot(api, shot["id"])["description"] == "first"
        # A new edit of the same field blocks redoing Alice's undone edit, naming the field.
        _patch(bob, shot["id"], description="bob again")
        refused = assert_problem(alice.post(f"/api/projects/{pid}/history/redo", json={"mine": True}), 409)
        assert "Cannot redo" in refused["detail"] and refused["fields"] == ["description"]
        assert _shot(api, shot["id"])["description"] == "bob again"
    finally:
        alice.close()
        bob.close()


def test_undo_of_a_new_shot_deletes_it_and_redo_brings_it_back_with_its_id(api: Api) -> None:
    project = api.project()
    scene = api.scene(project["id"])
    pid = project["id"]
    shot = api.shot(pid, scene["id"], description="keep me")
    undone = api.admin.post(f"/api/projects/{pid}/history/undo", json={})
    assert undone.status_code == 200, undone.text
    assert api.admin.get(f"/api/shots/{shot['id']}").status_code == 404
    redone = api.admin.post(f"/api/projects/{pid}/history/redo", json={})
    assert redone.status_code == 200, redone.text
    back = _shot(api, shot["id"])
    assert back["code"] == shot["code"] and back["description"] == "keep me"
    # Deleting and undoing the delete also keeps the id.
    deleted = api.admin.delete(f"/api/shots/{shot['id']}", params={"revision": back["revision"]})
    assert deleted.status_code == 204
    assert api.admin.post(f"/api/projects/{pid}/history/undo", json={}).status_code == 200
    assert _shot(api, shot["id"])["description"] == "keep me"


def test_undo_keeps_the_rules_of_a_normal_edit(api: Api) -> None:
    project = api.project()
    scene = api.scene(project["id"])
    pid = project["id"]
    shot = api.shot(pid, scene["id"], duration_frames=48)
    _patch(api.admin, shot["id"], duration_frames=60)
    artist = api.user("artist")
    try:
        # An artist may not change durations; undoing that edit is refused for them too.
        assert_problem(artist.post(f"/api/projects/{pid}/history/undo", json={}), 403)
        assert _shot(api, shot["id"])["duration_frames"] == 60
        # A locked shot's duration cannot change, by undo either.
        current = _shot(api, shot["id"])
        api.admin.post(f"/api/shots/{shot['id']}/lock", json={"revision": current["revision"]})
        history = _history(api.admin, f"/api/projects/{pid}/history")
        duration_edit = next(cs for cs in history if "duration_frames" in cs["items"][0]["changes"])
        assert_problem(api.admin.post(f"/api/history/{duration_edit['id']}/undo"), 409)
        assert _shot(api, shot["id"])["duration_frames"] == 60
    finally:
        artist.close()


def test_an_import_is_one_change_set_and_one_undo_reverts_every_row(api: Api) -> None:
    project = api.project()
    scene = api.scene(project["id"])
    pid = project["id"]
    shots = [api.shot(pid, scene["id"], description=f"before {i}") for i in range(3)]
    rows = "ID,Revision,Description\r\n" + "".join(
        f"{s['id']},{s['revision']},after {i}\r\n" for i, s in enumerate(shots)
    )
    applied = api.admin.post(
        f"/api/projects/{pid}/shotlist/apply", files={"file": ("edit.csv", rows.encode())}
    )
    assert applied.status_code == 200, applied.text
    change_set = api.admin.get(f"/api/history/{applied.json()['change_set_id']}").json()
    assert change_set["label"] == "import edit.csv" and len(change_set["items"]) == 3
    assert [_shot(api, s["id"])["description"] for s in shots] == ["after 0", "after 1", "after 2"]
    undone = api.admin.post(f"/api/projects/{pid}/history/undo", json={})
    assert undone.status_code == 200 and undone.json()["target"]["id"] == change_set["id"]
    assert [_shot(api, s["id"])["description"] for s in shots] == ["before 0", "before 1", "before 2"]
    assert api.admin.post(f"/api/projects/{pid}/history/redo", json={}).status_code == 200
    assert [_shot(api, s["id"])["description"] for s in shots] == ["after 0", "after 1", "after 2"]


def test_character_and_environment_edits_are_change_sets_that_undo(api: Api) -> None:
    project = api.project()
    pid = project["id"]
    mina = api.admin.post(f"/api/projects/{pid}/characters", json={"name": "Mina"}).json()
    edited = api.admin.patch(
        f"/api/characters/{mina['id']}", json={"description": "a courier", "revision": mina["revision"]}
    )
    assert edited.status_code == 200
    alley = api.admin.post(
        f"/api/projects/{pid}/environments", json={"name": "Alley", "prompt": "rain"}
    ).json()
    assert api.admin.delete(f"/api/environments/{alley['id']}", params={"revision": 1}).status_code == 204
    newest = _history(api.admin, f"/api/projects/{pid}/history")[0]
    assert [(i["entity"], i["action"], i["label"]) for i in newest["items"]] == [
        ("environment", "deleted", "Alley")
    ]
    assert api.admin.post(f"/api/projects/{pid}/history/undo", json={}).status_code == 200
    back = api.admin.get(f"/api/environments/{alley['id']}").json()
    assert back["name"] == "Alley" and back["prompt"] == "rain"
    assert api.admin.post(f"/api/projects/{pid}/history/undo", json={}).status_code == 200  # env creation
    assert api.admin.post(f"/api/projects/{pid}/history/undo", json={}).status_code == 200  # character edit
    assert api.admin.get(f"/api/characters/{mina['id']}").json()["description"] == ""
