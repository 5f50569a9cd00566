"""A breakdown's draft (made and applied) and a proxy render run in child processes of the server, not on the
server process's GIL (issue 18 §1): the server logs which process did each, and that process must be a
live child of the server, not the server itself. What a user sees is unchanged: the same answers, the
project's new scenes and shots, their live events on the WebSocket, the proxy's progress and movie, and
refusals from the child with their fields."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import connect

from tests.support.api import Api, assert_problem
from tests.support.processes import info_logging_server, log_records, parent_of
from tests.support.server import ServerProcess

DATA = Path(__file__).resolve().parents[1] / "data" / "breakdown"
FOUNTAIN = (DATA / "night_alley.fountain").read_text(encoding="utf-8")
RECV_TIMEOUT_S = 10


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[ServerProcess, Api]]:
    """A SQLite server of its own that logs at INFO (the shared test servers log warnings only)."""
    with info_logging_server(tmp_path / "server") as made:
        yield made


def _worker_of(process: ServerProcess, record: dict[str, Any]) -> int:
    assert process.process is not None
    server_pid = process.process.pid
    worker = int(record["worker_pid"])
    assert worker != server_pid, record  # done on the server's own GIL
    assert parent_of(worker) in (server_pid, None), record  # a process of the server's pool
    return worker


def _events(ws: Any, count: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + RECV_TIMEOUT_S
    while len(found) < count and time.monotonic() < deadline:
        message = json.loads(ws.recv(timeout=RECV_TIMEOUT_S))
        if message["type"] == "event":
            found.append(message)
    return found


def test_a_draft_is_made_and_applied_in_a_child_process(server: tuple[ServerProcess, Api]) -> None:
    process, api = server
    project = api.project(fps="24")
    token = api.admin.headers["Authorization"].split(" ", 1)[1]
    with connect(f"{api.ws_url}/api/events?token={token}&project_id={project['id']}") as ws:
        made = api.admin.post(
            f"/api/projects/{project['id']}/breakdowns",
            json={"text": FOUNTAIN, "source_name": "night_alley.fountain"},
        )
        assert made.status_code == 201, made.text
        draft = made.json()
        assert draft["status"] == "draft" and len(draft["content"]["shots"]) == 5
        assert draft["matches"] == {}
        applied = api.admin.post(f"/api/breakdowns/{draft['id']}/apply", json={"revision": draft["revision"]})
        assert applied.status_code == 200, applied.text
        result = applied.json()
        assert result["status"] == "applied" and len(result["result"]["shots"]) == 5
        # The live events of everything the child committed: the draft, its 2 scenes and 5 shots, the
        # characters and environments, the draft marked applied.
        events = _events(ws, 1 + 2 + 5 + 3 + 2 + 1)
    actions = [e["action"] for e in events]
    assert actions.count("shot.created") == 5 and actions.count("scene.created") == 2, actions
    assert actions[0] == "breakdown.created" and actions[-1] == "breakdown.updated", actions
    assert {e["actor"]["name"] for e in events} == {"admin"}
    shots = api.admin.get(f"/api/projects/{project['id']}/shots").json()
    assert [s["code"] for s in shots["items"]] == [s["code"] for s in result["result"]["shots"]]

    done = log_records(process.log(), "breakdown work done in a worker process")
    assert [r["what"] for r in done] == ["making a draft", "applying a draft"], done
    for record in done:
        _worker_of(process, record)
    (timed,) = log_records(process.log(), "breakdown draft applied")
    assert timed["shots"] == 5 and timed["worker_pid"] == done[1]["worker_pid"]


def test_refusals_come_back_from_the_child_with_their_fields(server: tuple[ServerProcess, Api]) -> None:
    _process, api = server
    project = api.project()
    assert_problem(
        api.admin.post(
            f"/api/projects/{project['id']}/breakdowns", json={"text": "Just prose.", "engine": "parser"}
        ),
        422,
        "engine",
    )
    missing = "00000000-0000-0000-0000-000000000000"
    assert_problem(api.admin.post(f"/api/projects/{missing}/breakdowns", json={"text": FOUNTAIN}), 404)
    draft = api.admin.post(f"/api/projects/{project['id']}/breakdowns", json={"text": FOUNTAIN}).json()
    stale = api.admin.post(f"/api/breakdowns/{draft['id']}/apply", json={"revision": draft["revision"] + 1})
    assert_problem(stale, 409)
    assert api.admin.get(f"/api/projects/{project['id']}/shots").json()["total"] == 0


def test_a_proxy_is_rendered_in_a_child_process(server: tuple[ServerProcess, Api]) -> None:
    process, api = server
    project = api.project(fps="24", width=320, height=180)
    scene = api.scene(project["id"])
    for _ in range(2):
        api.shot(project["id"], scene["id"], duration_frames=12)
    started = api.admin.post(f"/api/projects/{project['id']}/editorial/proxies")
    assert started.status_code == 202, started.text
    deadline = time.monotonic() + 120
    current = started.json()
    while current["status"] not in ("succeeded", "failed") and time.monotonic() < deadline:
        time.sleep(0.2)
        current = api.admin.get(f"/api/editorial/proxies/{current['id']}").json()
    assert current["status"] == "succeeded", current["error"]
    assert (current["encoded"], current["frames"], current["progress"]) == (2, 24, 1.0)
    assert (api.data_dir / "storage" / current["path"]).is_file()  # type: ignore[operator]
    (record,) = log_records(process.log(), "proxy rendered in a worker process")
    assert record["render_id"] == current["id"] and record["encoded"] == 2
    _worker_of(process, record)
