"""Live events while a child process of the server writes (an import or a breakdown: `child_writing`): the
server waits up to READBACK_DEFER_S (5 s) for the child to announce its events instead of reading them
back, but an edit made through the API meanwhile reaches a subscribed WebSocket client within a second.
The child's events still arrive once each, and a client that disconnects after the edit (its last event id
above the child's) and resumes from that id gets the child's events it missed, and nothing twice.

The server runs in this process (the real app, on loopback) so that the test can be the child: it enters
`child_writing` on the server's hub, writes the child's events with a connection of its own (on PostgreSQL
in a transaction still open while the edit commits with a higher id) and announces them as the server does
with a child's answer (`announce_packed`)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select
from websockets.sync.client import ClientConnection, connect

from sync_server.app import create_app
from sync_server.db.engine import make_database
from sync_server.db.models import AuditEvent
from sync_server.events import EventHub, event_message, pack_messages
from sync_server.settings import Settings
from tests.support.api import Api, login
from tests.support.inprocess import InProcessServer, serve_in_process
from tests.support.server import create_admin

EVENTS = AuditEvent.__table__
RECV_TIMEOUT_S = 10
EDIT_WITHIN_S = 1.0
CHILD_EVENTS = 50


@pytest.fixture(params=["sqlite", "postgresql"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[InProcessServer, Api, str]]:
    """The real app in this process (SQLite, or a fresh PostgreSQL database), its admin, the database URL."""
    url = None if request.param == "sqlite" else request.getfixturevalue("fresh_pg_url")
    data_dir = tmp_path / "data"
    settings = Settings(data_dir=data_dir, database_url=url)
    app = create_app(settings)
    database_url = settings.resolved_database_url
    password = create_admin(data_dir, url, "admin_gap")
    with serve_in_process(app) as server:
        admin = login(server.url, "admin_gap", password)
        try:
            yield server, Api(server.url, server.ws_url, admin, request.param, data_dir, url), database_url
        finally:
            admin.close()


def _open(api: Api, project_id: str, **params: Any) -> ClientConnection:
    token = api.admin.headers["Authorization"].split(" ", 1)[1]
    query = "&".join(f"{k}={v}" for k, v in {"token": token, "project_id": project_id, **params}.items())
    return connect(f"{api.ws_url}/api/events?{query}", open_timeout=RECV_TIMEOUT_S)


def _next(ws: ClientConnection, kind: str = "event", timeout: float = RECV_TIMEOUT_S) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        message = json.loads(ws.recv(timeout=max(0.0, deadline - time.monotonic())))
        if message["type"] == kind:
            return message


def _until_edit(ws: ClientConnection, revision: int) -> list[dict[str, Any]]:
    """The events up to and including the shot edit that made `revision`."""
    got = [_next(ws)]
    while not (got[-1]["action"] == "shot.updated" and got[-1]["revision"] == revision):
        got.append(_next(ws))
    return got


class Child:
    """A child process's write of CHILD_EVENTS events of the project, with a connection of its own: committed
    at once (SQLite has one writer: the child's transaction ends before the server's edit can start), or
    left open until `commit` (PostgreSQL: ids taken, the edit commits with a higher one meanwhile)."""

    def __init__(self, database_url: str, project_id: str, open_transaction: bool) -> None:
        self._db = make_database(database_url)
        self._connection = self._db.engine.connect()
        self._transaction = self._connection.begin()
        rows = [
            {"action": "shot.updated", "entity": "shot", "entity_id": f"child-{i}", "changes": {},
             "project_id": uuid.UUID(project_id)}
            for i in range(CHILD_EVENTS)
        ]  # fmt: skip
        self.ids = sorted(self._connection.execute(insert(EVENTS).returning(EVENTS.c.id), rows).scalars())
        if not open_transaction:
            self.commit()

    def commit(self) -> None:
        if self._transaction.is_active:
            self._transaction.commit()

    def announce(self, hub: EventHub) -> None:
        """As the server does with a child's answer: the messages the child packed."""
        query = select(EVENTS).where(EVENTS.c.id.in_(self.ids)).order_by(EVENTS.c.id)
        hub.announce_packed(pack_messages([event_message(row) for row in self._connection.execute(query)]))

    def close(self) -> None:
        self._connection.close()
        self._db.dispose()


def test_an_edit_reaches_a_client_at_once_while_a_child_writes_and_a_resume_misses_nothing(
    served: tuple[InProcessServer, Api, str],
) -> None:
    server, api, database_url = served
    hub: EventHub = server.app.state.services.hub
    project = api.project()
    shot = api.shot(project["id"], api.scene(project["id"])["id"], description="before")
    with _open(api, project["id"]) as watcher, _open(api, project["id"]) as leaver:
        _next(watcher, "hello")
        _next(leaver, "hello")
        with hub.child_writing():
            child = Child(database_url, project["id"], open_transaction=api.backend == "postgresql")
            try:
                began = time.monotonic()
                edit = {"description": "리나", "revision": 1}
                edited = api.admin.patch(f"/api/shots/{shot['id']}", json=edit)
                assert edited.status_code == 200, edited.text
                event = _next(watcher, timeout=EDIT_WITHIN_S)  # not after READBACK_DEFER_S
                took = time.monotonic() - began
                left = _next(leaver)  # its last event: it goes away before the child's arrive
                leaver.close()
                child.commit()
                child.announce(hub)
            finally:
                child.close()
        assert event["action"] == "shot.updated" and event["entity_id"] == shot["id"]
        assert event["changes"]["description"] == ["before", "리나"]
        assert took < EDIT_WITHIN_S
        assert left["id"] == event["id"] > max(child.ids)  # the edit overtook the child's events
        # The child's events after it, once each, in order; then the next edit and nothing in between.
        again = api.admin.patch(f"/api/shots/{shot['id']}", json={"description": "둘", "revision": 2})
        assert again.status_code == 200, again.text
        seen = _until_edit(watcher, revision=3)
    assert [m["id"] for m in seen[:-1]] == child.ids
    assert [m["entity_id"] for m in seen[:-1]] == [f"child-{i}" for i in range(CHILD_EVENTS)]
    # The client that left after the edit resumes from it: the child's lower ids it missed, then the
    # second edit, each once.
    with _open(api, project["id"], since=left["id"]) as resumed:
        hello = _next(resumed, "hello")
        replayed = _until_edit(resumed, revision=3)
    assert hello["resumed_from"] == left["id"]
    assert [m["id"] for m in replayed] == [m["id"] for m in seen]
    assert replayed == seen  # the same messages as the live ones
