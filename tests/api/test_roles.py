"""Who may do what: every role against every family of routes.

The expected table is written out here on purpose, independently of `sync_server/auth/permissions.py`,
so that a change to the server's matrix (or to which permission a route checks) shows up as a failure
that someone has to look at, instead of silently changing what a role can do.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.support.api import Api, assert_problem

ROLES = ("admin", "director", "editor", "artist", "wrangler", "agent")


@dataclass(frozen=True)
class Family:
    allowed: frozenset[str]
    needs: str  # the permission a refused role is told it lacks


def _family(needs: str, *allowed: str) -> Family:
    return Family(frozenset(allowed), needs)


# family -> roles allowed, and the permission named in the 403 for the others
EXPECTED: dict[str, Family] = {
    "read projects and shots": _family("project:read", "admin", "director", "editor", "artist", "wrangler"),
    "create and update projects": _family("project:admin", "admin", "director"),
    "create, reorder and delete shots": _family("shot:structure", "admin", "director", "editor"),
    "change shot duration and code": _family("shot:structure", "admin", "director", "editor"),
    "edit shot text fields": _family("shot:edit", "admin", "director", "editor", "artist"),
    "approve a shot": _family("shot:approve", "admin", "director"),
    "create and edit characters, environments, presets": _family("asset:edit", "admin", "director", "editor"),
    "manage users and API keys": _family("user:admin", "admin"),
    "read the audit log": _family("audit:read", "admin"),
    "read metrics": _family("metrics:read", "admin", "wrangler"),
}
# A shot PATCH is first checked for shot:edit; roles without it are told that, whatever they tried.
SHOT_PATCH_FAMILIES = {"change shot duration and code", "approve a shot"}


@dataclass
class World:
    api: Api
    clients: dict[str, httpx.Client]
    project: dict[str, Any]
    scene: dict[str, Any]
    character: dict[str, Any]
    watched: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def watch(self, path: str) -> str:
        """Remember how the record at `path` reads now; a refused role must leave it so."""
        self.watched.append((path, self.api.admin.get(path).json()))
        return path

    def shot(self, **overrides: Any) -> dict[str, Any]:
        return self.api.shot(self.project["id"], self.scene["id"], **overrides)

    def shot_in_review(self) -> dict[str, Any]:
        shot = self.shot(status="ready")
        moved = self.api.admin.patch(
            f"/api/shots/{shot['id']}", json={"status": "review", "revision": shot["revision"]}
        )
        assert moved.status_code == 200, moved.text
        return moved.json()


@pytest.fixture(scope="module")
def world(api: Api) -> Iterator[World]:
    clients = {role: api.user(role) for role in ROLES}
    project = api.project(name="roles")
    scene = api.scene(project["id"])
    character = api.admin.post(f"/api/projects/{project['id']}/characters", json={"name": "Rina"}).json()
    try:
        yield World(api, clients, project, scene, character)
    finally:
        for client in clients.values():
            client.close()


def _ok(response: httpx.Response) -> bool:
    return 200 <= response.status_code < 300


# Each family: calls made as the role; returns the responses, which must all be 2xx or all 403.


def _read(w: World, c: httpx.Client) -> list[httpx.Response]:
    shot = w.shot()
    return [
        c.get("/api/projects"),
        c.get(f"/api/projects/{w.project['id']}"),
        c.get(f"/api/projects/{w.project['id']}/shots"),
        c.get(f"/api/shots/{shot['id']}"),
    ]


def _projects(w: World, c: httpx.Client) -> list[httpx.Response]:
    created = c.post("/api/projects", json={"code": f"R{uuid.uuid4().hex[:10]}", "name": "by role"})
    target = created.json() if _ok(created) else w.project
    path = f"/api/projects/{target['id']}"
    updated = c.patch(
        w.watch(path), json={"name": "renamed", "revision": w.api.admin.get(path).json()["revision"]}
    )
    return [created, updated]


def _structure(w: World, c: httpx.Client) -> list[httpx.Response]:
    first, second = w.shot(), w.shot()
    created = c.post(f"/api/projects/{w.project['id']}/shots", json={"scene_id": w.scene["id"]})
    reordered = c.post(
        f"/api/projects/{w.project['id']}/shots/reorder",
        json={"shots": [{"id": second["id"], "revision": 1}, {"id": first["id"], "revision": 1}]},
    )
    w.watch(f"/api/shots/{second['id']}")
    deleted = c.delete(
        w.watch(f"/api/shots/{first['id']}"), headers={"If-Match": '"2"' if _ok(reordered) else '"1"'}
    )
    return [created, reordered, deleted]


def _duration_and_code(w: World, c: httpx.Client) -> list[httpx.Response]:
    shot = w.shot()
    duration = c.patch(w.watch(f"/api/shots/{shot['id']}"), json={"duration_frames": 48, "revision": 1})
    revision = 2 if _ok(duration) else 1
    # The same numbering with a 5 at the end: free (defaults step by ten) and readable by the templates.
    code = c.patch(f"/api/shots/{shot['id']}", json={"code": shot["code"][:-1] + "5", "revision": revision})
    return [duration, code]


def _text(w: World, c: httpx.Client) -> list[httpx.Response]:
    shot = w.shot()
    return [
        c.patch(
            w.watch(f"/api/shots/{shot['id']}"),
            json={"description": "rain", "dialogue": "어디 가?", "camera_notes": "slow push", "revision": 1},
        )
    ]


def _approve(w: World, c: httpx.Client) -> list[httpx.Response]:
    shot = w.shot_in_review()
    path = w.watch(f"/api/shots/{shot['id']}")
    return [c.patch(path, json={"status": "approved", "revision": shot["revision"]})]


def _assets(w: World, c: httpx.Client) -> list[httpx.Response]:
    pid = w.project["id"]
    suffix = uuid.uuid4().hex[:6]
    return [
        c.post(f"/api/projects/{pid}/characters", json={"name": f"Mina {suffix}"}),
        c.post(f"/api/projects/{pid}/environments", json={"name": f"Alley {suffix}"}),
        c.post(f"/api/projects/{pid}/presets", json={"name": f"Close {suffix}", "lens_mm": 85.0}),
        c.patch(
            w.watch(f"/api/characters/{w.character['id']}"),
            json={"description": f"edited {suffix}"},
            headers={"If-Match": f'"{_current_revision(w, "/api/characters/" + w.character["id"])}"'},
        ),
    ]


def _current_revision(w: World, path: str) -> int:
    return w.api.admin.get(path).json()["revision"]


def _users(w: World, c: httpx.Client) -> list[httpx.Response]:
    listed = c.get("/api/users")
    user = c.post(
        "/api/users",
        json={"username": f"made_{uuid.uuid4().hex[:8]}", "password": "l0ng-enough-pw", "role": "artist"},
    )
    key = c.post("/api/api-keys", json={"name": "role check", "role": "agent"})
    keys = c.get("/api/api-keys")
    return [listed, user, key, keys]


def _audit(w: World, c: httpx.Client) -> list[httpx.Response]:
    return [c.get("/api/audit", params={"limit": 1})]


def _metrics(w: World, c: httpx.Client) -> list[httpx.Response]:
    return [c.get("/api/metrics")]


CALLS: dict[str, Callable[[World, httpx.Client], list[httpx.Response]]] = {
    "read projects and shots": _read,
    "create and update projects": _projects,
    "create, reorder and delete shots": _structure,
    "change shot duration and code": _duration_and_code,
    "edit shot text fields": _text,
    "approve a shot": _approve,
    "create and edit characters, environments, presets": _assets,
    "manage users and API keys": _users,
    "read the audit log": _audit,
    "read metrics": _metrics,
}


def test_the_expected_table_covers_every_role_and_family() -> None:
    assert set(CALLS) == set(EXPECTED)
    for family in EXPECTED.values():
        assert family.allowed <= set(ROLES)
    assert EXPECTED["manage users and API keys"].allowed == {"admin"}  # only admins hand out access


@pytest.mark.parametrize("family", list(EXPECTED), ids=lambda f: f.replace(", ", "_").replace(" ", "_"))
@pytest.mark.parametrize("role", ROLES)
def test_role_may_or_may_not_use_the_route_family(world: World, role: str, family: str) -> None:
    world.watched.clear()
    responses = CALLS[family](world, world.clients[role])
    expected = EXPECTED[family]
    if role in expected.allowed:
        refused = [
            f"{r.request.method} {r.request.url.path} -> {r.status_code} {r.text[:200]}"
            for r in responses
            if not _ok(r)
        ]
        assert not refused, f"{role} should be allowed to {family}: " + "; ".join(refused)
        return
    needs = expected.needs
    if family in SHOT_PATCH_FAMILIES and role not in EXPECTED["edit shot text fields"].allowed:
        needs = "shot:edit"
    for response in responses:
        body = assert_problem(response, 403)
        named = body.get("required") or []
        assert needs in named or needs in body["detail"], f"403 should name {needs}: {body}"
    for path, before in world.watched:
        assert world.api.admin.get(path).json() == before, f"a refused {role} changed {path}"
