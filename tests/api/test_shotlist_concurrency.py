"""A shot-list apply that numbers new shots, while other clients create shots without a code in the same
project: both take turns on the project row (PostgreSQL; SQLite writers queue), so every create and the
apply succeed and no code is given twice. Before, the apply numbered its shots without that lock and a
create between its plan and its write could take one of its codes."""

from __future__ import annotations

import csv
import io
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.support.api import Api

NEW_ROWS = 1500
CLIENTS = 2
CREATES_PER_CLIENT = 15


def _new_rows_csv(scene: str, count: int) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["Scene", "Shot", "Description"])
    for i in range(count):
        writer.writerow([scene, "", f"new shot {i}"])
    return buffer.getvalue().encode()


def test_an_apply_and_concurrent_creates_never_give_one_code_twice(api: Api) -> None:
    project = api.project()
    pid = project["id"]
    scene = api.scene(pid)
    content = _new_rows_csv(scene["code"], NEW_ROWS)
    token = api.admin.headers["Authorization"]
    start = threading.Barrier(CLIENTS + 1)

    def apply() -> httpx.Response:
        with httpx.Client(base_url=api.base_url, headers={"Authorization": token}, timeout=300) as client:
            start.wait(timeout=30)
            return client.post(f"/api/projects/{pid}/shotlist/apply", files={"file": ("new.csv", content)})

    def create(_index: int) -> list[httpx.Response]:
        with httpx.Client(base_url=api.base_url, headers={"Authorization": token}, timeout=300) as client:
            start.wait(timeout=30)
            return [
                client.post(f"/api/projects/{pid}/shots", json={"scene_id": scene["id"]})
                for _ in range(CREATES_PER_CLIENT)
            ]

    with ThreadPoolExecutor(max_workers=CLIENTS + 1) as pool:
        applying = pool.submit(apply)
        created = [r for batch in pool.map(create, range(CLIENTS)) for r in batch]
        applied = applying.result()

    assert applied.status_code == 200, applied.text
    failures = [f"{r.status_code} {r.text}" for r in created if r.status_code != 201]
    assert not failures, failures[:3]
    codes = applied.json()["applied"]["created"] + [r.json()["code"] for r in created]
    assert len(codes) == NEW_ROWS + CLIENTS * CREATES_PER_CLIENT
    assert len(set(codes)) == len(codes), "a code was given twice"
    listed = api.admin.get(f"/api/projects/{pid}/shots", params={"limit": 1}).json()
    assert listed["total"] == len(codes)
