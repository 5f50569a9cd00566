"""Two people editing one shot, many writers at once, and a server that is killed and restarted."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.conftest import ADMIN, start_server_with_admin
from tests.support.api import Api, login


def test_two_clients_edit_one_shot_one_wins_the_other_gets_409_and_nothing_is_lost(api: Api) -> None:
    project = api.project()
    shot = api.shot(project["id"], api.scene(project["id"])["id"], description="v1", action="run")
    layout = api.user("artist")
    director = api.user("director")
    seen_by_both = layout.get(f"/api/shots/{shot['id']}").json()
    assert director.get(f"/api/shots/{shot['id']}").json()["revision"] == seen_by_both["revision"]

    first = layout.patch(
        f"/api/shots/{shot['id']}",
        json={"description": "artist's text", "revision": seen_by_both["revision"]},
    )
    second = director.patch(
        f"/api/shots/{shot['id']}", json={"action": "director's action", "revision": seen_by_both["revision"]}
    )
    assert first.status_code == 200
    assert second.status_code == 409
    problem = second.json()
    assert second.headers["content-type"].startswith("application/problem+json")
    assert problem["errors"][0]["field"] == "revision"
    # The loser gets the record as it now is, so their client can merge and retry.
    assert problem["current"]["description"] == "artist's text"
    assert problem["current"]["revision"] == first.json()["revision"]

    retry = director.patch(
        f"/api/shots/{shot['id']}",
        json={"action": "director's action", "revision": problem["current"]["revision"]},
    )
    assert retry.status_code == 200
    final = api.admin.get(f"/api/shots/{shot['id']}").json()
    assert final["description"] == "artist's text"
    assert final["action"] == "director's action"


def test_of_many_simultaneous_writers_on_one_revision_exactly_one_succeeds(api: Api) -> None:
    project = api.project()
    shot = api.shot(project["id"], api.scene(project["id"])["id"])
    token = api.admin.headers["Authorization"]

    def edit(i: int) -> int:
        with httpx.Client(base_url=api.base_url, headers={"Authorization": token}, timeout=60) as client:
            return client.patch(
                f"/api/shots/{shot['id']}", json={"description": f"writer {i}", "revision": 1}
            ).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(edit, range(8)))
    assert sorted(codes) == [200] + [409] * 7
    final = api.admin.get(f"/api/shots/{shot['id']}").json()
    assert final["revision"] == 2
    assert final["description"].startswith("writer ")


def _restart_round_trip(tmp_path, database_url: str | None) -> None:
    server, password = start_server_with_admin(tmp_path / "data", database_url)
    try:
        client = login(server.url, ADMIN, password)
        project = client.post(
            "/api/projects", json={"code": "RESTART", "name": "재시작", "fps": "29.97"}
        ).json()
        scene = client.post(f"/api/projects/{project['id']}/scenes", json={"name": "골목길"}).json()
        shot = client.post(
            f"/api/projects/{project['id']}/shots", json={"scene_id": scene["id"], "dialogue": "리나: 가자"}
        ).json()
        edited = client.patch(f"/api/shots/{shot['id']}", json={"status": "ready", "revision": 1})
        assert edited.status_code == 200
    finally:
        server.stop(kill=True)  # no graceful shutdown: what was acknowledged must be on disk

    server.start()
    try:
        client = login(server.url, ADMIN, password)
        again = client.get(f"/api/shots/{shot['id']}").json()
        assert again["dialogue"] == "리나: 가자"
        assert again["status"] == "ready"
        assert again["revision"] == 2
        assert client.get(f"/api/projects/{project['id']}").json()["fps"] == "30000/1001"
    finally:
        server.stop()


def test_data_survives_a_killed_and_restarted_server_on_sqlite(tmp_path) -> None:
    _restart_round_trip(tmp_path, None)


def test_data_survives_a_killed_and_restarted_server_on_postgresql(tmp_path, fresh_pg_url: str) -> None:
    _restart_round_trip(tmp_path, fresh_pg_url)
