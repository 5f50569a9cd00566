"""Live events over WebSocket /api/events: delivery, ping/pong, resume, access, and across processes."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.conftest import start_server_with_admin
from tests.support.api import Api, login

RECV_TIMEOUT_S = 10


def _token(client: Any) -> str:
    return client.headers["Authorization"].split(" ", 1)[1]


def _open(ws_url: str, token: str, **params: Any) -> ClientConnection:
    query = "&".join(f"{k}={v}" for k, v in {"token": token, **params}.items())
    return connect(f"{ws_url}/api/events?{query}", open_timeout=RECV_TIMEOUT_S)


def _next(ws: ClientConnection, kind: str = "event") -> dict[str, Any]:
    while True:
        message = json.loads(ws.recv(timeout=RECV_TIMEOUT_S))
        if message["type"] == kind:
            return message


def _next_change(ws: ClientConnection, *made: dict[str, Any]) -> dict[str, Any]:
    """The next event other than the creation of what the test made before it subscribed. A creation
    committed just before the subscription may still be on its way to the subscribers (PostgreSQL: read back
    after its notification) and then reaches this client after hello — in order, never lost; the event the
    test waits for is the next one. Any other event is returned, so an unexpected one still fails the test."""
    setup = {str(m["id"]) for m in made}
    while True:
        event = _next(ws)
        if not (event["action"].endswith(".created") and event["entity_id"] in setup):
            return event


def test_a_shot_edit_reaches_a_subscribed_client_with_its_changes(api: Api) -> None:
    project = api.project()
    scene = api.scene(project["id"])
    shot = api.shot(project["id"], scene["id"], description="before")
    with _open(api.ws_url, _token(api.admin), project_id=project["id"]) as ws:
        assert _next(ws, "hello")["type"] == "hello"
        edited = api.admin.patch(f"/api/shots/{shot['id']}", json={"description": "리나", "revision": 1})
        assert edited.status_code == 200
        event = _next_change(ws, project, scene, shot)
    assert event["action"] == "shot.updated"
    assert event["entity_id"] == shot["id"]
    assert event["project_id"] == project["id"]
    assert event["revision"] == 2 and event["revision_before"] == 1
    assert event["changes"]["description"] == ["before", "리나"]
    assert event["data"]["description"] == "리나"
    assert event["actor"]["name"] == "admin_test"


def test_a_client_only_gets_events_of_the_project_it_subscribed_to(api: Api) -> None:
    watched, other = api.project(), api.project()
    with _open(api.ws_url, _token(api.admin), project_id=watched["id"]) as ws:
        _next(ws, "hello")
        api.scene(other["id"], name="not for you")
        api.scene(watched["id"], name="for you")
        event = _next(ws)
    assert event["project_id"] == watched["id"]
    assert event["data"]["name"] == "for you"


def test_the_server_answers_ping_with_pong(api: Api) -> None:
    with _open(api.ws_url, _token(api.admin)) as ws:
        _next(ws, "hello")
        ws.send(json.dumps({"type": "ping"}))
        assert _next(ws, "pong") == {"type": "pong"}


def test_a_reconnecting_client_resumes_from_its_last_event_id(api: Api) -> None:
    project = api.project()
    scene = api.scene(project["id"])
    with _open(api.ws_url, _token(api.admin), project_id=project["id"]) as ws:
        _next(ws, "hello")
        api.admin.patch(f"/api/scenes/{scene['id']}", json={"name": "one", "revision": 1})
        first = _next_change(ws, project, scene)
        assert first["data"]["name"] == "one"
        last_seen = first["id"]
    # Offline: two more changes happen.
    api.admin.patch(f"/api/scenes/{scene['id']}", json={"name": "two", "revision": 2})
    api.admin.patch(f"/api/scenes/{scene['id']}", json={"name": "three", "revision": 3})
    with _open(api.ws_url, _token(api.admin), project_id=project["id"], since=last_seen) as ws:
        hello = _next(ws, "hello")
        missed = [_next_change(ws, project, scene), _next_change(ws, project, scene)]
    assert hello["resumed_from"] == last_seen
    assert [m["data"]["name"] for m in missed] == ["two", "three"]
    assert missed[0]["id"] < missed[1]["id"]


def test_a_live_event_is_the_same_as_the_stored_one_a_resuming_client_replays(api: Api) -> None:
    # The server sends its own commits' events from memory; a resume reads them from the database.
    project = api.project()
    scene = api.scene(project["id"])
    shot = api.shot(project["id"], scene["id"], description="before")
    with _open(api.ws_url, _token(api.admin), project_id=project["id"]) as ws:
        _next(ws, "hello")
        api.admin.patch(f"/api/shots/{shot['id']}", json={"description": "리나 🎬", "revision": 1})
        api.admin.patch(f"/api/shots/{shot['id']}", json={"duration_frames": 60, "revision": 2})
        live = [_next_change(ws, project, scene, shot), _next_change(ws, project, scene, shot)]
    with _open(api.ws_url, _token(api.admin), project_id=project["id"], since=live[0]["id"] - 1) as ws:
        _next(ws, "hello")
        replayed = [_next_change(ws, project, scene, shot), _next_change(ws, project, scene, shot)]
    assert live == replayed
    assert [e["revision"] for e in live] == [2, 3]


def test_the_event_stream_needs_a_valid_token_and_the_right_role(api: Api) -> None:
    with pytest.raises(InvalidStatus) as no_token:
        connect(f"{api.ws_url}/api/events", open_timeout=RECV_TIMEOUT_S)
    assert no_token.value.response.status_code == 403
    with pytest.raises(InvalidStatus):
        _open(api.ws_url, "not-a-token")
    agent = api.user("agent")
    with pytest.raises(InvalidStatus):
        _open(api.ws_url, _token(agent))
    artist = api.user("artist")
    with _open(api.ws_url, _token(artist)) as ws:
        assert _next(ws, "hello")["type"] == "hello"


@contextlib.contextmanager
def _two_server_processes(pg_url: str, tmp_path: Path) -> Iterator[tuple[Any, Any, Any, Any]]:
    """Two server processes on one PostgreSQL database (replicas): each with an admin client logged in."""
    from tests.support.server import ServerProcess

    server_a, password = start_server_with_admin(tmp_path / "a", pg_url)
    server_b = None
    try:
        server_b = ServerProcess(tmp_path / "b", pg_url).start()
        yield (
            server_a,
            server_b,
            login(server_a.url, "admin_test", password),
            login(server_b.url, "admin_test", password),
        )
    finally:
        server_a.stop()
        if server_b is not None:
            server_b.stop()


@pytest.mark.postgres
def test_a_change_through_one_server_process_reaches_a_client_of_another(fresh_pg_url: str, tmp_path) -> None:
    with _two_server_processes(fresh_pg_url, tmp_path) as (server_a, server_b, client_a, client_b):
        project = client_a.post("/api/projects", json={"code": "REPLICA", "name": "두 서버"}).json()
        with _open(server_b.ws_url, _token(client_b), project_id=project["id"]) as ws:
            _next(ws, "hello")
            scene = client_a.post(f"/api/projects/{project['id']}/scenes", json={"name": "골목길"})
            assert scene.status_code == 201
            event = _next_change(ws, project)
    assert event["action"] == "scene.created"
    assert event["data"]["name"] == "골목길"
    assert event["entity_id"] == scene.json()["id"]


def _next_live(ws: ClientConnection, agent_id: str) -> dict[str, Any]:
    while True:
        message = _next(ws, "live")
        if message["entity_id"] == agent_id:
            return message


@pytest.mark.postgres
def test_an_agents_live_reading_reaches_the_dashboards_of_every_server_process_once(
    fresh_pg_url: str, tmp_path
) -> None:
    """Two server processes on one PostgreSQL database: an agent's heartbeat to one reaches a dashboard
    subscribed to the other (live readings are not stored, so they travel on their own notification
    channel), and the dashboards of the process that took it get it once, not again from the database."""
    with _two_server_processes(fresh_pg_url, tmp_path) as (server_a, server_b, client_a, client_b):
        key = client_a.post("/api/api-keys", json={"name": "render-01-key", "role": "agent"}).json()["key"]
        agent = httpx.Client(base_url=server_a.url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
        registered = agent.post("/api/farm/agents/register", json={"name": "render-01", "gpus": []})
        assert registered.status_code == 200, registered.text
        agent_id = registered.json()["agent_id"]
        beat = f"/api/farm/agents/{agent_id}/heartbeat"
        with (
            _open(server_a.ws_url, _token(client_a)) as here,
            _open(server_b.ws_url, _token(client_b)) as there,
        ):
            _next(here, "hello")
            _next(there, "hello")
            reason = "ComfyUI 재시작 중 / restarting"
            assert agent.post(beat, json={"state": "unavailable", "reason": reason}).status_code == 200
            seen_there, seen_here = _next_live(there, agent_id), _next_live(here, agent_id)
            assert agent.post(beat, json={"state": "idle"}).status_code == 200
            second_here, second_there = _next_live(here, agent_id), _next_live(there, agent_id)
        agent.close()
    for reading in (seen_there, seen_here):
        assert reading["kind"] == "agent.heartbeat" and reading["entity"] == "agent"
        assert (reading["data"]["state"], reading["data"]["state_reason"]) == ("unavailable", reason)
    assert seen_there == seen_here
    # Each process's dashboards get each reading once: the next one for the agent is the second heartbeat.
    assert second_here["data"]["state"] == second_there["data"]["state"] == "idle"
