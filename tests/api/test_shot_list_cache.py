"""Shot lists are served from a cache that no change can outlive, with ETags for clients."""

from __future__ import annotations

from tests.conftest import ADMIN, start_server_with_admin
from tests.support.api import Api, login
from tests.support.server import ServerProcess


def test_an_unchanged_shot_list_answers_304_to_a_client_that_has_it(api: Api) -> None:
    project = api.project()
    shot = api.shot(project["id"], api.scene(project["id"])["id"])
    path = f"/api/projects/{project['id']}/shots"
    first = api.admin.get(path)
    etag = first.headers["ETag"]
    again = api.admin.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert api.admin.get(path, params={"limit": 1}).headers["ETag"] != etag  # other parameters, other list
    edited = api.admin.patch(f"/api/shots/{shot['id']}", json={"description": "새 설명", "revision": 1})
    assert edited.status_code == 200
    after = api.admin.get(path, headers={"If-None-Match": etag})
    assert after.status_code == 200
    assert after.json()["items"][0]["description"] == "새 설명"


def test_a_deleted_and_a_new_shot_never_leave_a_stale_list(api: Api) -> None:
    project = api.project()
    scene = api.scene(project["id"])
    doomed = api.shot(project["id"], scene["id"], description="doomed")
    path = f"/api/projects/{project['id']}/shots"
    assert [s["description"] for s in api.admin.get(path).json()["items"]] == ["doomed"]
    assert api.admin.delete(f"/api/shots/{doomed['id']}", params={"revision": 1}).status_code == 204
    api.shot(project["id"], scene["id"], description="replacement")
    assert [s["description"] for s in api.admin.get(path).json()["items"]] == ["replacement"]


def test_a_change_through_another_server_process_is_seen_at_once(fresh_pg_url: str, tmp_path) -> None:
    server_a, password = start_server_with_admin(tmp_path / "a", fresh_pg_url)
    server_b = ServerProcess(tmp_path / "b", fresh_pg_url).start()
    try:
        a, b = login(server_a.url, ADMIN, password), login(server_b.url, ADMIN, password)
        project = a.post("/api/projects", json={"code": "CACHE", "name": "cache"}).json()
        scene = a.post(f"/api/projects/{project['id']}/scenes", json={}).json()
        shot = a.post(f"/api/projects/{project['id']}/shots", json={"scene_id": scene["id"]}).json()
        path = f"/api/projects/{project['id']}/shots"
        assert a.get(path).json()["items"][0]["description"] == ""  # cached by A
        assert (
            b.patch(f"/api/shots/{shot['id']}", json={"description": "via B", "revision": 1}).status_code
            == 200
        )
        assert a.get(path).json()["items"][0]["description"] == "via B"
    finally:
        server_a.stop()
        server_b.stop()
