"""Proxy renders across server processes on one database (several uvicorn workers, or two `aipipe server`s):
a render on its way in one process is the answer in another while its heartbeat is fresh, so one edit asked
of both makes one render; a render whose process was killed is failed (its heartbeat went stale) and the
same edit is rendered anew. Real servers over HTTP, on SQLite and on PostgreSQL.

ffmpeg is held at a gate (`IMAGEIO_FFMPEG_EXE` names a script that waits for the test to open it), so the
first render is surely still running when the second process is asked."""

from __future__ import annotations

import stat
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import imageio_ffmpeg
import pytest

from tests.conftest import ADMIN
from tests.support.api import login
from tests.support.server import ServerProcess, create_admin

HEARTBEAT_S = 1.0
STALE_S = 6.0  # room for a heartbeat thread on a loaded machine
GATE_WAIT_S = 300  # a gated ffmpeg gives up after this long (a test that failed before opening the gate)
RENDER_S = 180  # a render of two 12-frame slates, on a loaded machine

pytestmark = pytest.mark.timeout(420)


@dataclass
class Gate:
    """ffmpeg runs of the servers wait until `open()`."""

    script: Path
    opened: Path

    def open(self) -> None:
        self.opened.touch()


def _gate(folder: Path) -> Gate:
    folder.mkdir(parents=True, exist_ok=True)
    opened = folder / "open"
    script = folder / "ffmpeg-gate"
    # It also gives up when the proxy process that ran it is gone (its server was killed): it is reparented.
    script.write_text(
        "#!/bin/sh\n"
        f"parent=$PPID; waited=0\n"
        f"while [ ! -e '{opened}' ]; do\n"
        '  [ "$(cut -d" " -f4 /proc/$$/stat)" = "$parent" ] || exit 1\n'
        f"  waited=$((waited + 1)); [ $waited -lt {GATE_WAIT_S * 10} ] || exit 1\n"
        "  sleep 0.1\n"
        "done\n"
        f"exec '{imageio_ffmpeg.get_ffmpeg_exe()}' \"$@\"\n",
        encoding="utf-8",
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return Gate(script, opened)


@dataclass
class TwoServers:
    first: ServerProcess
    second: ServerProcess
    a: httpx.Client  # the admin on the first server
    b: httpx.Client  # the admin on the second
    gate: Gate


@pytest.fixture(params=["sqlite", "postgresql"])
def servers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TwoServers]:
    """Two server processes on one database and one storage folder, their ffmpeg held at a gate."""
    url = request.getfixturevalue("fresh_pg_url") if request.param == "postgresql" else None
    data_dir = tmp_path / "data"
    gate = _gate(tmp_path / "gate")
    env = {
        "IMAGEIO_FFMPEG_EXE": str(gate.script),
        "AIPIPE_EDITORIAL_PROXY_HEARTBEAT_S": str(HEARTBEAT_S),
        "AIPIPE_EDITORIAL_PROXY_STALE_S": str(STALE_S),
    }
    password = create_admin(data_dir, url, ADMIN)
    started: list[ServerProcess] = []
    clients: list[httpx.Client] = []
    try:
        for _ in range(2):
            started.append(ServerProcess(data_dir, url, env=env).start())
            clients.append(login(started[-1].url, ADMIN, password))
        yield TwoServers(started[0], started[1], clients[0], clients[1], gate)
    finally:
        gate.open()
        for client in clients:
            client.close()
        for server in started:
            server.stop()


def _edit(client: httpx.Client) -> str:
    """A project of two 12-frame shots (slates: no media needed); its id."""
    body = {"code": f"P{uuid.uuid4().hex[:10]}", "name": "Proxy", "fps": "24", "width": 320, "height": 180}
    project = client.post("/api/projects", json=body)
    assert project.status_code == 201, project.text
    project_id = project.json()["id"]
    scene = client.post(f"/api/projects/{project_id}/scenes", json={})
    assert scene.status_code == 201, scene.text
    for _ in range(2):
        shot = client.post(
            f"/api/projects/{project_id}/shots", json={"scene_id": scene.json()["id"], "duration_frames": 12}
        )
        assert shot.status_code == 201, shot.text
    return project_id


def _until(
    client: httpx.Client, render: dict[str, Any], statuses: set[str], timeout_s: float
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        current = client.get(f"/api/editorial/proxies/{render['id']}").json()
        if current["status"] in statuses:
            return current
        assert time.monotonic() < deadline, f"proxy v{render['number']:03d} still {current['status']}"
        time.sleep(0.1)


def _numbers(client: httpx.Client, project_id: str) -> list[int]:
    return [p["number"] for p in client.get(f"/api/projects/{project_id}/editorial/proxies").json()]


def _rendering_on_a(servers: TwoServers) -> tuple[str, str, httpx.Response]:
    """A new edit whose proxy the first server was asked for and is rendering (held at the gate)."""
    project_id = _edit(servers.a)
    url = f"/api/projects/{project_id}/editorial/proxies"
    first = servers.a.post(url)
    assert first.status_code == 202, first.text
    _until(servers.a, first.json(), {"running"}, RENDER_S)
    return project_id, url, first


def test_two_server_processes_asked_for_one_edit_while_it_renders_make_one_render(
    servers: TwoServers,
) -> None:
    project_id, url, first = _rendering_on_a(servers)
    # Past the staleness: the first server's heartbeat keeps its render fresh, not only its queuing.
    time.sleep(STALE_S + 1)

    second = servers.b.post(url)
    assert second.status_code == 202, second.text
    assert (second.json()["id"], second.json()["number"]) == (first.json()["id"], 1), second.json()
    assert second.json()["status"] == "running"

    servers.gate.open()
    done = _until(servers.b, first.json(), {"succeeded", "failed"}, RENDER_S)
    assert done["status"] == "succeeded", done["error"]
    again = servers.b.post(url)
    assert again.status_code == 200 and again.json()["id"] == done["id"], again.text
    assert _numbers(servers.a, project_id) == [1]


def test_a_render_whose_server_process_was_killed_is_failed_and_the_edit_rendered_anew(
    servers: TwoServers,
) -> None:
    project_id, url, first = _rendering_on_a(servers)
    servers.first.stop(kill=True)

    # Nobody asks: the other process finds the heartbeat stale and marks the render failed, saying why.
    left = _until(servers.b, first.json(), {"failed", "succeeded"}, STALE_S + 30)
    assert left["status"] == "failed" and "server process rendering it stopped" in left["error"], left
    assert left["finished_at"] is not None

    # The same edit asked again: not the dead render; a new one, which this process renders.
    servers.gate.open()
    second = servers.b.post(url)
    assert second.status_code == 202, second.text
    assert second.json()["number"] == 2
    done = _until(servers.b, second.json(), {"succeeded", "failed"}, RENDER_S)
    assert done["status"] == "succeeded", done["error"]
    assert _numbers(servers.b, project_id) == [2, 1]


def test_a_render_whose_server_was_stopped_is_failed_at_once_and_the_edit_rendered_anew(
    servers: TwoServers,
) -> None:
    """A server stopped the usual way (SIGTERM: a restart, a deploy) fails the renders it held as it stops;
    before, they stayed `running` with a fresh heartbeat, and for `AIPIPE_EDITORIAL_PROXY_STALE_S` the
    restarted server answered the same edit with the render nobody was making."""
    project_id, url, first = _rendering_on_a(servers)
    servers.first.stop()
    stopped = time.monotonic()

    left = servers.b.get(f"/api/editorial/proxies/{first.json()['id']}").json()
    assert time.monotonic() - stopped < STALE_S, "too slow to tell a stopped render from a stale one"
    assert left["status"] == "failed" and "server was stopped" in left["error"], left
    assert left["finished_at"] is not None

    second = servers.b.post(url)
    assert second.status_code == 202, second.text
    assert second.json()["number"] == 2
    servers.gate.open()
    done = _until(servers.b, second.json(), {"succeeded", "failed"}, RENDER_S)
    assert done["status"] == "succeeded", done["error"]
    assert _numbers(servers.b, project_id) == [2, 1]


def test_a_server_on_the_same_machine_knows_at_once_that_a_killed_servers_render_is_not_coming(
    servers: TwoServers,
) -> None:
    """A render names the process holding it: a server of the same machine asked for the edit right after
    that process was killed renders it anew at once, where it answered with the dead render (its heartbeat
    still fresh) for up to `AIPIPE_EDITORIAL_PROXY_STALE_S` before."""
    project_id, url, first = _rendering_on_a(servers)
    servers.first.stop(kill=True)
    killed = time.monotonic()

    servers.gate.open()
    second = servers.b.post(url)
    assert time.monotonic() - killed < STALE_S - HEARTBEAT_S, "too slow to tell a dead holder from stale"
    assert second.status_code == 202, second.text
    assert second.json()["number"] == 2, second.json()
    left = servers.b.get(f"/api/editorial/proxies/{first.json()['id']}").json()
    assert left["status"] == "failed" and "server process rendering it stopped" in left["error"], left
    done = _until(servers.b, second.json(), {"succeeded", "failed"}, RENDER_S)
    assert done["status"] == "succeeded", done["error"]
    assert _numbers(servers.b, project_id) == [2, 1]
