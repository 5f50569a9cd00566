"""A big shot-list import runs off the event loop (an import process; the request's worker thread waits):
while it is read, diffed and applied, the server keeps answering other requests (before, an import stalled
every other request until it ended). `test_shotlist_process.py` checks it is another process."""

from __future__ import annotations

import csv
import io
import threading
import time
from typing import Any

import httpx

from tests.support.api import Api

NEW_ROWS = 5000
# A preview only reads and diffs: it needs more rows to last long enough for probes to be seen during it.
PREVIEW_ROWS = 20000


def _new_rows_csv(scene: str, count: int) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["Scene", "Shot", "Status", "Description", "Dialogue", "Duration (frames)"])
    for i in range(count):
        writer.writerow([scene, "", "draft", f"new shot {i} — 비 오는 골목 " * 3, "리나: 가자.", 24 + i % 48])
    return buffer.getvalue().encode()


def _while(api: Api, path: str, content: bytes, probe_path: str, authorization: str | None) -> httpx.Response:
    """Send the import; meanwhile send `probe_path` again and again. Check the probes were answered all
    through the import (even in its second half), each in a small part of its time. On the event loop,
    the first probe sent behind the import waits for all of it and no other is sent until it ends."""
    answer: dict[str, Any] = {}
    finished = threading.Event()

    def run_import() -> None:
        with api.client() as client:
            started = time.monotonic()
            response = client.post(path, files={"file": ("big.csv", content)}, timeout=600)
            answer.update(response=response, started=started, ended=time.monotonic())
        finished.set()

    importer = threading.Thread(target=run_import)
    answered: list[tuple[float, float]] = []  # (sent, answered) of each probe answered before the import
    with api.client(authorization=authorization) as probe:
        importer.start()
        while not finished.is_set():
            sent = time.monotonic()
            reply = probe.get(probe_path, timeout=600)
            done = time.monotonic()
            assert reply.status_code == 200, reply.text
            if not finished.is_set():
                answered.append((sent, done))
    importer.join()
    started, took = answer["started"], answer["ended"] - answer["started"]
    during = [(sent, done) for sent, done in answered if sent > started]
    # On the loop the first probe behind the import waits for all of it: at most one would be answered.
    assert len(during) >= 3, (len(during), took)
    assert any(sent - started > took / 2 for sent, _ in during), (during[-3:], took)
    slowest = max(done - sent for sent, done in during)
    assert slowest < took / 2, (slowest, took)
    return answer["response"]  # type: ignore[no-any-return]


def test_health_is_answered_all_through_a_big_import_apply(api: Api) -> None:
    project = api.project()
    pid = project["id"]
    scene = api.scene(pid)
    content = _new_rows_csv(scene["code"], NEW_ROWS)
    response = _while(api, f"/api/projects/{pid}/shotlist/apply", content, "/api/health", None)
    assert response.status_code == 200, response.text
    assert len(response.json()["applied"]["created"]) == NEW_ROWS
    listing = api.admin.get(f"/api/projects/{pid}/shots", params={"limit": 1})
    assert listing.json()["total"] == NEW_ROWS


def test_a_project_is_read_all_through_a_big_import_preview(api: Api) -> None:
    project = api.project()
    pid = project["id"]
    scene = api.scene(pid)
    content = _new_rows_csv(scene["code"], PREVIEW_ROWS)
    token = api.admin.headers["Authorization"]
    response = _while(api, f"/api/projects/{pid}/shotlist/import", content, f"/api/projects/{pid}", token)
    assert response.status_code == 200, response.text
    assert response.json()["summary"]["added"] == PREVIEW_ROWS
