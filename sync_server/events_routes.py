"""WebSocket /api/events: live project changes, with ping/pong and resume from an event id."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from .auth.permissions import Permission
from .deps import Services, authenticate, get_services
from .errors import ApiError
from .events import Subscriber

logger = logging.getLogger(__name__)
router = APIRouter(tags=["events"])

CLOSE_POLICY = 1008  # auth failure
CLOSE_TRY_AGAIN = 1013  # the client fell behind: reconnect with ?since=<last id>
MAX_EVENT_ID = 2**63 - 1
MAX_CLIENT_MESSAGE_CHARS = 4096  # a ping is a few bytes; anything longer is answered with an error


def _token(websocket: WebSocket) -> str | None:
    header = websocket.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return websocket.query_params.get("token")


@router.websocket("/events")
async def events(websocket: WebSocket) -> None:
    """See docs/events.md for the messages. Query: token, since (event id), project_id."""
    services = get_services(websocket)
    token = _token(websocket)
    try:
        if not token:
            raise ApiError("token required")
        principal = await asyncio.to_thread(authenticate, services, token)
        if not principal.can(Permission.EVENTS_READ):
            raise ApiError(f"role '{principal.role}' may not read events")
        raw_project = websocket.query_params.get("project_id")
        project_id = uuid.UUID(raw_project) if raw_project else None
        raw_since = websocket.query_params.get("since")
        since = int(raw_since) if raw_since else None
        if since is not None and not 0 <= since <= MAX_EVENT_ID:
            raise ValueError(f"since must be an event id between 0 and {MAX_EVENT_ID}")
    except (ApiError, ValueError) as exc:
        await websocket.close(code=CLOSE_POLICY, reason=str(exc)[:120])
        return

    await websocket.accept()
    hub = services.hub
    subscriber = hub.subscribe(principal, project_id)
    services.metrics.websocket_clients.inc()
    try:
        # The resume point is the event sent last, in the order this process sends them (the hub's, not
        # always the highest id: its own commits may overtake a child process's events, EventHub.resume_plan).
        last_sent = since if since is not None else hub.last_event_id
        await websocket.send_json(
            {"type": "hello", "last_event_id": hub.last_event_id, "resumed_from": since}
        )
        replayed: set[int] = set()
        if since is not None:
            plan = hub.resume_plan(since)
            backlog = await asyncio.to_thread(
                hub.replay, since, project_id, services.settings.events_replay_max, plan
            )
            for message in backlog:
                if subscriber.wants(message):
                    await websocket.send_json(message)
                    last_sent = message["id"]
                replayed.add(message["id"])
        await _pump(websocket, subscriber, last_sent, replayed, services)
    except WebSocketDisconnect:
        logger.debug("event client disconnected")
    finally:
        hub.unsubscribe(subscriber)
        services.metrics.websocket_clients.dec()


async def _pump(
    websocket: WebSocket, subscriber: Subscriber, last_sent: int, replayed: set[int], services: Services
) -> None:
    """Send events and pings; answer the client's pings; stop when either side goes away."""
    ping_interval = services.settings.ws_ping_interval_s
    receiver = asyncio.create_task(_receive(websocket))
    try:
        while True:
            getter = asyncio.create_task(subscriber.queue.get())
            done, _ = await asyncio.wait(
                {getter, receiver}, timeout=ping_interval, return_when=asyncio.FIRST_COMPLETED
            )
            if receiver in done:
                getter.cancel()
                receiver.result()  # re-raises WebSocketDisconnect
                return
            if getter in done:
                message = getter.result()
                event_id = message.get("id")  # None: a live reading (EventHub.publish_live), not an event
                if event_id is not None and event_id in replayed:  # already sent while replaying the backlog
                    replayed.discard(event_id)
                else:
                    await websocket.send_json(message)
                    services.metrics.events_dispatched.inc()
                    if event_id is not None:
                        last_sent = event_id
            else:
                getter.cancel()
                await websocket.send_json({"type": "ping"})
            if subscriber.overflowed:
                await websocket.send_json({"type": "overflow", "last_event_id": last_sent})
                await websocket.close(code=CLOSE_TRY_AGAIN, reason="too slow; resume with since")
                return
    finally:
        receiver.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
            await receiver


async def _receive(websocket: WebSocket) -> None:
    """Answer the client's messages until it goes away; a message that is not understood gets an error."""
    while True:
        received = await websocket.receive()
        if received["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(received.get("code", 1000), received.get("reason"))
        text = received.get("text")
        if text is None:
            await websocket.send_json({"type": "error", "detail": "messages must be JSON text, not binary"})
            continue
        if len(text) > MAX_CLIENT_MESSAGE_CHARS:
            await websocket.send_json({"type": "error", "detail": "message too long"})
            continue
        try:
            message = json.loads(text)
        except (ValueError, RecursionError):
            await websocket.send_json({"type": "error", "detail": "messages must be JSON"})
            continue
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "ping":
            await websocket.send_json({"type": "pong"})
        elif kind != "pong":
            await websocket.send_json({"type": "error", "detail": f"unknown message type {kind!r}"})
