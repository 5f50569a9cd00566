"""The audit log: every change says who made it, to what, from which revision to which, and what changed."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.support.api import Api, assert_problem, login


@dataclass
class Actors:
    director: httpx.Client
    director_name: str
    others: dict[str, httpx.Client]


@pytest.fixture(scope="module")
def actors(api: Api) -> Iterator[Actors]:
    name = f"dir_{uuid.uuid4().hex[:8]}"
    director = api.user("director", username=name)
    others = {role: api.user(role) for role in ("editor", "artist", "wrangler", "agent")}
    yield Actors(director, name, others)
    for client in (director, *others.values()):
        client.close()


def events(api: Api, **filters: Any) -> list[dict[str, Any]]:
    """Audit events matching `filters`, oldest first."""
    response = api.admin.get("/api/audit", params={"limit": 5000, "sort": "id", **filters})
    assert response.status_code == 200, response.text
    return response.json()["items"]


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert 200 <= response.status_code < 300, response.text
    return response.json() if response.content else {}


def test_create_update_and_delete_are_audited_with_actor_revisions_and_changed_fields(
    api: Api, actors: Actors
) -> None:
    project = api.project()
    d = actors.director
    created = d.post(
        f"/api/projects/{project['id']}/characters", json={"name": "리나", "description": "quiet"}
    )
    character = _ok(created)
    updated = d.patch(
        f"/api/characters/{character['id']}",
        json={"description": "loud", "clothing_options": ["raincoat"], "revision": 1},
    )
    _ok(updated)
    deleted = d.delete(f"/api/characters/{character['id']}", params={"revision": 2})
    assert deleted.status_code == 204

    log = events(api, entity_id=character["id"])
    assert [e["action"] for e in log] == ["character.created", "character.updated", "character.deleted"]
    for event, response in zip(log, (created, updated, deleted), strict=True):
        assert event["actor_name"] == actors.director_name and event["actor_kind"] == "user"
        assert event["entity"] == "character" and event["project_id"] == project["id"]
        assert event["request_id"] == response.headers["X-Request-ID"]  # the change can be traced back
    create, update, delete = log
    assert (create["revision_before"], create["revision_after"]) == (None, 1)
    assert (update["revision_before"], update["revision_after"]) == (1, 2)
    assert update["changes"] == {"description": ["quiet", "loud"], "clothing_options": [[], ["raincoat"]]}
    assert (delete["revision_before"], delete["revision_after"]) == (2, None)


def test_a_refused_change_leaves_no_audit_event(api: Api, actors: Actors) -> None:
    project = api.project()
    scene = api.scene(project["id"])
    shot = api.shot(project["id"], scene["id"])
    before = events(api, entity_id=shot["id"])
    refused = actors.director.patch(f"/api/shots/{shot['id']}", json={"status": "final", "revision": 1})
    assert_problem(refused, 409, field="status")
    stale = actors.director.patch(f"/api/shots/{shot['id']}", json={"description": "x", "revision": 7})
    assert_problem(stale, 409, field="revision")
    assert events(api, entity_id=shot["id"]) == before


# -- each kind of change ------------------------------------------------------------------------------


@dataclass
class Expected:
    entity_id: str
    action: str
    actor: str
    revisions: tuple[int | None, int | None] | None = None
    changes: dict[str, Any] | None = None  # exactly these changes (None: not checked here)
    secret: str | None = None  # text that must not appear anywhere in the event


Scenario = Callable[[Api, Actors], Expected]


def _shot(api: Api) -> tuple[dict[str, Any], dict[str, Any]]:
    project = api.project()
    scene = api.scene(project["id"])
    return project, api.shot(project["id"], scene["id"])


def _project_renamed(api: Api, a: Actors) -> Expected:
    project = api.project(name="Night alley")
    _ok(a.director.patch(f"/api/projects/{project['id']}", json={"name": "골목길", "revision": 1}))
    return Expected(
        project["id"], "project.updated", a.director_name, (1, 2), {"name": ["Night alley", "골목길"]}
    )


def _scene_renamed(api: Api, a: Actors) -> Expected:
    scene = api.scene(api.project()["id"], name="old")
    _ok(a.director.patch(f"/api/scenes/{scene['id']}", json={"name": "new", "revision": 1}))
    return Expected(scene["id"], "scene.updated", a.director_name, (1, 2), {"name": ["old", "new"]})


def _environment_created(api: Api, a: Actors) -> Expected:
    project = api.project()
    env = _ok(a.director.post(f"/api/projects/{project['id']}/environments", json={"name": "Alley"}))
    return Expected(env["id"], "environment.created", a.director_name, (None, 1))


def _preset_cloned(api: Api, a: Actors) -> Expected:
    project = api.project()
    builtin = next(
        p for p in api.admin.get(f"/api/projects/{project['id']}/presets").json()["items"] if p["builtin"]
    )
    clone = _ok(a.director.post(f"/api/presets/{builtin['id']}/clone", json={"project_id": project["id"]}))
    return Expected(clone["id"], "preset.created", a.director_name, (None, 1))


def _shot_created(api: Api, a: Actors) -> Expected:
    project = api.project()
    scene = api.scene(project["id"])
    shot = _ok(a.director.post(f"/api/projects/{project['id']}/shots", json={"scene_id": scene["id"]}))
    return Expected(shot["id"], "shot.created", a.director_name, (None, 1))


def _shot_status(api: Api, a: Actors) -> Expected:
    _, shot = _shot(api)
    _ok(a.director.patch(f"/api/shots/{shot['id']}", json={"status": "ready", "revision": 1}))
    return Expected(shot["id"], "shot.updated", a.director_name, (1, 2), {"status": ["draft", "ready"]})


def _shot_subjects(api: Api, a: Actors) -> Expected:
    project, shot = _shot(api)
    rina = _ok(api.admin.post(f"/api/projects/{project['id']}/characters", json={"name": "Rina"}))
    subjects = [{"character_id": rina["id"], "clothing": ""}]
    _ok(a.director.patch(f"/api/shots/{shot['id']}", json={"subjects": subjects, "revision": 1}))
    return Expected(shot["id"], "shot.updated", a.director_name, (1, 2), {"subjects": [[], subjects]})


def _shot_locked(api: Api, a: Actors) -> Expected:
    _, shot = _shot(api)
    _ok(a.director.post(f"/api/shots/{shot['id']}/lock", json={"revision": 1}))
    return Expected(shot["id"], "shot.updated", a.director_name, (1, 2), {"locked": [False, True]})


def _shot_deleted(api: Api, a: Actors) -> Expected:
    _, shot = _shot(api)
    assert a.director.delete(f"/api/shots/{shot['id']}", params={"revision": 1}).status_code == 204
    return Expected(shot["id"], "shot.deleted", a.director_name, (1, None))


def _shot_reordered(api: Api, a: Actors) -> Expected:
    project, first = _shot(api)
    second = api.shot(project["id"], first["scene_id"])
    body = {"shots": [{"id": second["id"], "revision": 1}, {"id": first["id"], "revision": 1}]}
    _ok(a.director.post(f"/api/projects/{project['id']}/shots/reorder", json=body))
    changes = {"sort_order": [first["order"], second["order"]]}
    return Expected(first["id"], "shot.updated", a.director_name, (1, 2), changes)


def _user_role_changed(api: Api, a: Actors) -> Expected:
    user = _ok(
        api.admin.post(
            "/api/users",
            json={"username": f"u_{uuid.uuid4().hex[:8]}", "password": "l0ng-enough", "role": "artist"},
        )
    )
    _ok(api.admin.patch(f"/api/users/{user['id']}", json={"role": "editor", "revision": 1}))
    return Expected(user["id"], "user.updated", "admin_test", (1, 2), {"role": ["artist", "editor"]})


def _password_reset_by_admin(api: Api, a: Actors) -> Expected:
    user = _ok(
        api.admin.post(
            "/api/users",
            json={"username": f"u_{uuid.uuid4().hex[:8]}", "password": "l0ng-enough", "role": "artist"},
        )
    )
    _ok(api.admin.patch(f"/api/users/{user['id']}", json={"password": "s3cret-reset-pw", "revision": 1}))
    return Expected(user["id"], "user.updated", "admin_test", (1, 2), None, secret="s3cret-reset-pw")


def _own_password_changed(api: Api, a: Actors) -> Expected:
    name, password = f"u_{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(12)
    user = _ok(api.admin.post("/api/users", json={"username": name, "password": password, "role": "artist"}))
    client = login(api.base_url, name, password)
    try:
        body = {"current_password": password, "new_password": "s3cret-own-pw"}
        assert client.post("/api/users/me/password", json=body).status_code == 204
    finally:
        client.close()
    return Expected(user["id"], "user.password_changed", name, (1, 2), None, secret="s3cret-own-pw")


def _api_key_revoked(api: Api, a: Actors) -> Expected:
    key = _ok(api.admin.post("/api/api-keys", json={"name": "gpu-07", "role": "agent"}))
    _ok(api.admin.delete(f"/api/api-keys/{key['id']}"))
    return Expected(key["id"], "api_key.revoked", "admin_test", secret=key["key"])


SCENARIOS: dict[str, Scenario] = {
    "project renamed": _project_renamed,
    "scene renamed": _scene_renamed,
    "environment created": _environment_created,
    "preset cloned": _preset_cloned,
    "shot created": _shot_created,
    "shot status changed": _shot_status,
    "shot subjects changed": _shot_subjects,
    "shot locked": _shot_locked,
    "shot deleted": _shot_deleted,
    "shot reordered": _shot_reordered,
    "user role changed": _user_role_changed,
    "password reset by an admin": _password_reset_by_admin,
    "own password changed": _own_password_changed,
    "api key revoked": _api_key_revoked,
}


@pytest.mark.parametrize("scenario", list(SCENARIOS), ids=lambda s: s.replace(" ", "_"))
def test_every_kind_of_change_is_audited(api: Api, actors: Actors, scenario: str) -> None:
    expected = SCENARIOS[scenario](api, actors)
    log = [e for e in events(api, entity_id=expected.entity_id) if e["action"] == expected.action]
    assert log, f"no {expected.action} event for {expected.entity_id}"
    event = log[-1]
    assert event["actor_name"] == expected.actor
    if expected.revisions is not None:
        assert (event["revision_before"], event["revision_after"]) == expected.revisions, event
    if expected.changes is not None:
        assert event["changes"] == expected.changes
    if expected.action.startswith("user.") and expected.secret:
        masked = [k for k in event["changes"] if "password" in k]
        assert masked, f"the event should say that the password changed: {event}"
    if expected.secret:
        assert expected.secret not in json.dumps(event, ensure_ascii=False)


# -- logins and access ---------------------------------------------------------------------------------


def test_failed_logins_are_audited_with_the_username_and_address_but_not_the_password(api: Api) -> None:
    name = f"Victim_{uuid.uuid4().hex[:8]}"
    _ok(api.admin.post("/api/users", json={"username": name, "password": "l0ng-enough", "role": "artist"}))
    ghost = f"ghost_{uuid.uuid4().hex[:8]}"
    for username, password in [(name, "guess-one"), (name, "guess-two"), (ghost, "guess-three")]:
        refused = httpx.post(
            f"{api.base_url}/api/auth/login", json={"username": username, "password": password}
        )
        assert refused.status_code == 401
    failed = events(api, action="auth.login_failed", entity_id=name.lower())
    assert len(failed) == 2
    for event in failed:
        assert event["actor_name"] == name and event["actor_kind"] == "anonymous"
        assert event["remote_addr"] == "127.0.0.1" and event["entity"] == "user"
        assert "guess" not in json.dumps(event)
    assert len(events(api, action="auth.login_failed", entity_id=ghost)) == 1


def test_a_successful_login_is_audited_for_that_user(api: Api) -> None:
    name = f"u_{uuid.uuid4().hex[:8]}"
    user = _ok(
        api.admin.post("/api/users", json={"username": name, "password": "l0ng-enough", "role": "artist"})
    )
    login(api.base_url, name, "l0ng-enough").close()
    logins = events(api, action="auth.login", entity_id=user["id"])
    assert len(logins) == 1 and logins[0]["actor_name"] == name and logins[0]["actor_id"] == user["id"]


@pytest.mark.parametrize("role", ["director", "editor", "artist", "wrangler", "agent"])
def test_only_admins_may_read_the_audit_log(api: Api, actors: Actors, role: str) -> None:
    client = actors.director if role == "director" else actors.others[role]
    body = assert_problem(client.get("/api/audit"), 403)
    assert body["required"] == ["audit:read"]


def test_the_audit_log_filters_by_entity_id_and_by_project(api: Api) -> None:
    mine, theirs = api.project(), api.project()
    scene = api.scene(mine["id"])
    shot = api.shot(mine["id"], scene["id"])
    _ok(api.admin.patch(f"/api/shots/{shot['id']}", json={"description": "rain", "revision": 1}))
    their_scene = api.scene(theirs["id"])

    by_entity = events(api, entity_id=shot["id"])
    assert [e["action"] for e in by_entity] == ["shot.created", "shot.updated"]
    assert {e["entity_id"] for e in by_entity} == {shot["id"]}

    by_project = events(api, project_id=mine["id"])
    assert {e["project_id"] for e in by_project} == {mine["id"]}
    assert {mine["id"], scene["id"], shot["id"]} <= {e["entity_id"] for e in by_project}
    assert their_scene["id"] not in {e["entity_id"] for e in by_project}
    assert [e["action"] for e in events(api, project_id=mine["id"], action="shot.updated")] == [
        "shot.updated"
    ]
    assert_problem(api.admin.get("/api/audit", params={"project_id": "not-a-uuid"}), 422, field="project_id")
