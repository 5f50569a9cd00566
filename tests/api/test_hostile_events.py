"""WebSocket /api/events against hostile and careless clients: messages it does not understand, a client
that stops reading, and a thousand connects and disconnects. The server is looked at from inside (its
subscribers and asyncio tasks), so it runs in this process, on loopback, from the real app factory."""

from __future__ import annotations

import json
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from sync_server.app import create_app
from sync_server.settings import Settings
from tests.support.api import login
from tests.support.inprocess import InProcessServer, serve_in_process, wait_until
from tests.support.server import create_admin

RECV_TIMEOUT_S = 10
QUEUE_SIZE = 4  # AIPIPE_EVENTS_QUEUE_SIZE of this server: a reader that stops falls behind quickly
CYCLES = 1000
MAX_EDITS = 2000  # bound on the edits made while waiting for the stopped reader to fall behind


@pytest.fixture(scope="module")
def events_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[InProcessServer, str]]:
    data_dir: Path = tmp_path_factory.mktemp("events-server")
    app = create_app(Settings(data_dir=data_dir, events_queue_size=QUEUE_SIZE))
    # The app made the database; the admin is made through the real CLI, as a studio would.
    password = create_admin(data_dir, None, "admin_ev")
    with serve_in_process(app) as server:
        admin = login(server.url, "admin_ev", password)
        token = admin.headers["Authorization"].split(" ", 1)[1]
        admin.close()
        yield server, token


def _open(server: InProcessServer, token: str, **params: Any) -> ClientConnection:
    query = "&".join(f"{k}={v}" for k, v in {"token": token, **params}.items())
    return connect(f"{server.ws_url}/api/events?{query}", open_timeout=RECV_TIMEOUT_S)


def _next(ws: ClientConnection, kind: str) -> dict[str, Any]:
    while True:
        message = json.loads(ws.recv(timeout=RECV_TIMEOUT_S))
        if message["type"] == kind:
            return message


def _client(server: InProcessServer, token: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


@pytest.mark.parametrize(
    ("sent", "says"),
    [
        ("not json", "JSON"),
        ('{"type": "subscribe-all"}', "unknown message type 'subscribe-all'"),
        ("[1, 2, 3]", "unknown message type None"),
        ('{"type": ["ping"]}', "unknown message type"),
        ("[" * 3000 + "]" * 3000, "too long"),
        ("[" * 1500 + "]" * 1500, "JSON"),
        (b"\x00\x01binary", "binary"),
    ],
)
def test_a_message_the_server_does_not_understand_gets_an_error_and_the_stream_goes_on(
    events_server: tuple[InProcessServer, str], sent: str | bytes, says: str
) -> None:
    server, token = events_server
    with _open(server, token) as ws:
        _next(ws, "hello")
        ws.send(sent)
        error = _next(ws, "error")
        assert says in error["detail"], error
        ws.send(json.dumps({"type": "ping"}))
        assert _next(ws, "pong") == {"type": "pong"}


@pytest.mark.parametrize("since", [str(2**63), "-1", "12abc"])
def test_a_bad_since_is_refused_before_the_stream_opens(
    events_server: tuple[InProcessServer, str], since: str
) -> None:
    server, token = events_server
    with pytest.raises(InvalidStatus) as refused:
        _open(server, token, since=since)
    assert refused.value.response.status_code == 403
    with _open(server, token, since="0") as ws:  # a good one still works
        assert _next(ws, "hello")["resumed_from"] == 0


def test_a_client_that_stops_reading_is_told_to_resume_and_closed_with_1013_then_resumes(
    events_server: tuple[InProcessServer, str],
) -> None:
    server, token = events_server
    hub = server.app.state.services.hub
    with _client(server, token) as admin:
        project = admin.post("/api/projects", json={"code": f"OV{secrets.token_hex(3)}", "name": "o"}).json()
        scene = admin.post(f"/api/projects/{project['id']}/scenes", json={}).json()
        shot = admin.post(f"/api/projects/{project['id']}/shots", json={"scene_id": scene["id"]}).json()
        # A small receive window, no read-ahead, no compression: the client really stops taking data.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", server.port))
        ws = connect(
            f"{server.ws_url}/api/events?token={token}&project_id={project['id']}",
            sock=sock,
            max_queue=1,
            compression=None,  # the events would compress to little and take long to fill the buffers
            open_timeout=RECV_TIMEOUT_S,
        )
        with ws:
            _next(ws, "hello")
            revision, edits = shot["revision"], 0
            while hub.overflowed_count == 0:
                assert edits < MAX_EDITS, "the stopped reader never fell behind"
                text = f"{edits:06d}" + "x" * 19_994
                edited = admin.patch(
                    f"/api/shots/{shot['id']}", json={"description": text, "revision": revision}
                )
                assert edited.status_code == 200, edited.text
                revision, edits = edited.json()["revision"], edits + 1
            received: list[dict[str, Any]] = []
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    received.append(json.loads(ws.recv(timeout=RECV_TIMEOUT_S)))
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013
        overflow = received[-1]
        assert overflow["type"] == "overflow", received[-1]
        seen = [m for m in received if m["type"] == "event"]
        assert all(m["id"] <= overflow["last_event_id"] for m in seen)
        # Resuming from the last event id it was told brings every later edit, up to the newest.
        with _open(server, token, project_id=project["id"], since=overflow["last_event_id"]) as again:
            _next(again, "hello")
            last = None
            while last is None or last["data"]["revision"] < revision:
                last = _next(again, "event")
        assert last["data"]["description"].startswith(f"{edits - 1:06d}")
    wait_until(lambda: hub.subscriber_count == 0, what="the closed subscribers to be gone")


def test_a_thousand_connects_and_disconnects_leave_no_subscriber_or_task_behind(
    events_server: tuple[InProcessServer, str],
) -> None:
    server, token = events_server
    hub = server.app.state.services.hub
    wait_until(lambda: hub.subscriber_count == 0, what="no subscribers before")
    tasks_before = server.task_count()
    for cycle in range(CYCLES):
        with _open(server, token) as ws:
            _next(ws, "hello")
            if cycle % 10 == 0:
                ws.socket.close()  # gone without a closing handshake, like a killed client
    wait_until(lambda: hub.subscriber_count == 0, what="every subscriber to be removed")
    wait_until(lambda: server.task_count() <= tasks_before, what=f"tasks back to {tasks_before}")
    with _open(server, token) as ws:  # and the stream still works
        _next(ws, "hello")
        ws.send(json.dumps({"type": "ping"}))
        assert _next(ws, "pong") == {"type": "pong"}
