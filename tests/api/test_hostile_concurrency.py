"""Many clients creating at once: server-assigned shot codes and version numbers never collide.

Real HTTP against real SQLite and PostgreSQL, and two server processes on one PostgreSQL database.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tests.conftest import ADMIN, start_server_with_admin
from tests.support.api import Api, assert_problem, login
from tests.support.media import png_bytes
from tests.support.server import ServerProcess

CLIENTS = 4
CREATES_PER_CLIENT = 25
SQL_WORDS = ("duplicate key", "violates", "UNIQUE constraint", "INSERT INTO", "psycopg", "sqlite3")


def _create_many(base_urls: list[str], token: str, project_id: str, scene_id: str) -> list[httpx.Response]:
    """CLIENTS threads, each with its own connection, creating shots without a code at the same moment."""
    start = threading.Barrier(CLIENTS)

    def client_run(index: int) -> list[httpx.Response]:
        url = base_urls[index % len(base_urls)]
        with httpx.Client(base_url=url, headers={"Authorization": token}, timeout=60) as client:
            start.wait(timeout=30)
            return [
                client.post(f"/api/projects/{project_id}/shots", json={"scene_id": scene_id})
                for _ in range(CREATES_PER_CLIENT)
            ]

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        return [r for batch in pool.map(client_run, range(CLIENTS)) for r in batch]


def _assert_all_created_with_distinct_codes(
    responses: list[httpx.Response], listed: list[dict[str, Any]]
) -> None:
    failures = [f"{r.status_code} {r.text}" for r in responses if r.status_code != 201]
    assert not failures, f"{len(failures)} of {len(responses)} creates failed, e.g. {failures[:3]}"
    codes = [r.json()["code"] for r in responses]
    assert len(set(codes)) == len(codes) == CLIENTS * CREATES_PER_CLIENT
    assert sorted(shot["code"] for shot in listed) == sorted(codes)


def test_a_hundred_concurrent_creates_without_a_code_all_succeed_with_distinct_codes(api: Api) -> None:
    project = api.project()
    scene = api.scene(project["id"])
    responses = _create_many([api.base_url], api.admin.headers["Authorization"], project["id"], scene["id"])
    listed = api.admin.get(f"/api/projects/{project['id']}/shots", params={"limit": 500}).json()["items"]
    _assert_all_created_with_distinct_codes(responses, listed)


def test_concurrent_creates_with_one_given_code_one_wins_the_others_get_409_naming_code(api: Api) -> None:
    project = api.project()
    scene = api.scene(project["id"])
    token = api.admin.headers["Authorization"]
    start = threading.Barrier(8)

    def create(_: int) -> httpx.Response:
        with httpx.Client(base_url=api.base_url, headers={"Authorization": token}, timeout=60) as client:
            start.wait(timeout=30)
            return client.post(
                f"/api/projects/{project['id']}/shots", json={"scene_id": scene["id"], "code": "SHT_0500"}
            )

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(create, range(8)))
    assert sorted(r.status_code for r in responses) == [201] + [409] * 7
    for response in responses:
        if response.status_code == 409:
            body = assert_problem(response, 409, "code")
            assert not any(word.lower() in response.text.lower() for word in SQL_WORDS), body


def test_parallel_uploads_to_one_shot_get_distinct_numbers_through_two_servers(
    fresh_pg_url: str, tmp_path
) -> None:
    """Two server processes on one database and one storage folder: numbering holds across replicas."""
    data_dir = tmp_path / "data"
    server_a, password = start_server_with_admin(data_dir, fresh_pg_url)
    server_b: ServerProcess | None = None
    try:
        server_b = ServerProcess(data_dir, fresh_pg_url).start()
        admin = login(server_a.url, ADMIN, password)
        project = admin.post("/api/projects", json={"code": "RACE", "name": "Race"}).json()
        scene = admin.post(f"/api/projects/{project['id']}/scenes", json={}).json()
        token = admin.headers["Authorization"]

        responses = _create_many([server_a.url, server_b.url], token, project["id"], scene["id"])
        listed = admin.get(f"/api/projects/{project['id']}/shots", params={"limit": 500}).json()["items"]
        _assert_all_created_with_distinct_codes(responses, listed)

        shot_id = responses[0].json()["id"]
        start = threading.Barrier(12)

        def upload(i: int) -> int:
            url = (server_a.url, server_b.url)[i % 2]
            with httpx.Client(base_url=url, headers={"Authorization": token}, timeout=120) as client:
                start.wait(timeout=30)
                response = client.post(
                    f"/api/shots/{shot_id}/versions",
                    data={"stage": "layout"},
                    files=[("files", (f"take_{i}.png", png_bytes(color=(i * 20, 9, 9)), "image/png"))],
                )
            assert response.status_code == 201, response.text
            return int(response.json()["number"])

        with ThreadPoolExecutor(max_workers=12) as pool:
            numbers = list(pool.map(upload, range(12)))
        assert sorted(numbers) == list(range(1, 13))
    finally:
        server_a.stop()
        if server_b is not None:
            server_b.stop()


def test_concurrent_scene_creates_without_a_code_get_distinct_codes(api: Api) -> None:
    project = api.project()
    token = api.admin.headers["Authorization"]
    start = threading.Barrier(CLIENTS)

    def create(_: int) -> list[httpx.Response]:
        with httpx.Client(base_url=api.base_url, headers={"Authorization": token}, timeout=60) as client:
            start.wait(timeout=30)
            return [client.post(f"/api/projects/{project['id']}/scenes", json={}) for _ in range(10)]

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        responses = [r for batch in pool.map(create, range(CLIENTS)) for r in batch]
    assert [r.status_code for r in responses if r.status_code != 201] == [], responses[0].text
    codes = [r.json()["code"] for r in responses]
    assert len(set(codes)) == len(codes) == CLIENTS * 10
