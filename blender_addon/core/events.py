"""Live updates: a small WebSocket client (RFC 6455, standard library) for the server's `/api/events`.

`EventListener` runs on its own thread, hands each event dict to `on_event` (which should queue it for
the main thread with `Worker.post`), remembers the last event id and reconnects with `since=` after a
drop, so nothing is missed. Protocol: docs/events.md.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import socket
import ssl
import struct
import threading
import urllib.parse
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)
RECONNECT_S = (1.0, 2.0, 5.0, 10.0)
READ_TIMEOUT_S = 0.25  # how often the thread looks at its stop flag
WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3


def is_older(known: dict[str, Any] | None, data: dict[str, Any]) -> bool:
    """Whether `data`, a record as an event brings it, is an older state of the record than `known` (lower
    revision). Events do not always arrive in id order: the server sends its own commits at once, ahead of a
    child process's (an import's) events with lower ids (docs/events.md), so an import's update of a shot
    may arrive after an edit made on top of it."""
    if not known:
        return False
    try:
        return int(data.get("revision") or 0) < int(known.get("revision") or 0)
    except (TypeError, ValueError):
        return False


class WebSocketError(OSError):
    pass


def expected_accept(key: str) -> str:
    """The `Sec-WebSocket-Accept` a real WebSocket server answers to `key` (RFC 6455 section 4.2.2)."""
    return base64.b64encode(hashlib.sha1((key + WEBSOCKET_GUID).encode()).digest()).decode()


def handshake_headers(head: str) -> dict[str, str]:
    """The response head's header fields, names lower-cased."""
    headers = {}
    for line in head.split("\r\n")[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return headers


class WebSocket:
    """A client connection: text frames in and out, pings answered; enough for the event stream."""

    def __init__(self, url: str, timeout_s: float = 10.0, token: str | None = None) -> None:
        parts = urllib.parse.urlsplit(url)
        secure = parts.scheme in ("wss", "https")
        host = parts.hostname or "localhost"
        port = parts.port or (443 if secure else 80)
        sock = socket.create_connection((host, port), timeout=timeout_s)
        if secure:
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
        self._sock = sock
        self._buffer = b""
        key = base64.b64encode(os.urandom(16)).decode()
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        # The token goes in a header, never in the URL (URLs end up in access logs and proxies).
        auth = f"Authorization: Bearer {token}\r\n" if token else ""
        request = (
            f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"{auth}Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        sock.sendall(request.encode())
        head = self._read_until(b"\r\n\r\n").decode("latin-1")
        status = head.split("\r\n", 1)[0]
        if " 101 " not in f"{status} ":
            raise WebSocketError(f"the server refused the event stream: {status}")
        accept = handshake_headers(head).get("sec-websocket-accept", "")
        if accept != expected_accept(key):
            # Something that is not our server (a proxy or a cache answering 101) is on the other end.
            sock.close()
            raise WebSocketError("the server's WebSocket handshake is wrong (Sec-WebSocket-Accept)")

    def _read_until(self, marker: bytes) -> bytes:
        while marker not in self._buffer:
            chunk = self._sock.recv(65536)
            if not chunk:
                raise WebSocketError("connection closed during the handshake")
            self._buffer += chunk
        head, self._buffer = self._buffer.split(marker, 1)
        return head

    def _read_exact(self, size: int) -> bytes:
        while len(self._buffer) < size:
            chunk = self._sock.recv(65536)
            if not chunk:
                raise WebSocketError("connection closed")
            self._buffer += chunk
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def send(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        head = bytes([0x80 | opcode])
        size = len(payload)
        if size < 126:
            head += bytes([0x80 | size])
        elif size < 65536:
            head += bytes([0x80 | 126]) + struct.pack("!H", size)
        else:
            head += bytes([0x80 | 127]) + struct.pack("!Q", size)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self._sock.sendall(head + mask + masked)

    def receive(self, timeout_s: float) -> str | None:
        """The next text message, or None when `timeout_s` passed without one (partial frames are kept)."""
        message = b""
        while True:
            self._sock.settimeout(timeout_s)
            try:
                if not self._buffer:
                    chunk = self._sock.recv(65536)
                    if not chunk:
                        raise WebSocketError("connection closed")
                    self._buffer += chunk
            except TimeoutError:
                return None
            self._sock.settimeout(30.0)  # the rest of a frame that has begun to arrive
            first, second = self._read_exact(2)
            opcode, size = first & 0x0F, second & 0x7F
            if size == 126:
                size = struct.unpack("!H", self._read_exact(2))[0]
            elif size == 127:
                size = struct.unpack("!Q", self._read_exact(8))[0]
            mask = self._read_exact(4) if second & 0x80 else b""
            payload = self._read_exact(size)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if opcode == 0x8:
                raise WebSocketError("the server closed the event stream")
            if opcode == 0x9:
                self.send(0xA, payload)
                continue
            if opcode in (0x1, 0x2, 0x0):
                message += payload
                if first & 0x80:
                    return message.decode("utf-8")

    def close(self) -> None:
        try:
            self.send(0x8, struct.pack("!H", 1000))
        except OSError as exc:
            log.debug("event stream close frame not sent: %s", exc)
        self._sock.close()


class EventListener:
    """Follows `/api/events` on a thread until `stop()`; resumes after drops with `since=<last id>`."""

    def __init__(
        self,
        base_url: str,
        token: Callable[[], str | None],
        on_event: Callable[[dict[str, Any]], None],
        project_id: str | None = None,
        on_state: Callable[[str], None] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._on_event = on_event
        self._on_state = on_state or (lambda _state: None)
        self.project_id = project_id
        self.last_event_id: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="aipipe-events", daemon=True)

    def start(self) -> EventListener:
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 3.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def url(self) -> str:
        ws = "wss" + self.base_url[5:] if self.base_url.startswith("https") else "ws" + self.base_url[4:]
        query: dict[str, str] = {}
        if self.project_id:
            query["project_id"] = self.project_id
        if self.last_event_id is not None:
            query["since"] = str(self.last_event_id)
        return f"{ws}/api/events" + (f"?{urllib.parse.urlencode(query)}" if query else "")

    def _run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            try:
                socket_ = WebSocket(self.url(), token=self._token())
            except OSError as exc:
                self._on_state(f"offline: {exc}")
                self._stop.wait(RECONNECT_S[min(attempt, len(RECONNECT_S) - 1)])
                attempt += 1
                continue
            attempt = 0
            self._on_state("live")
            try:
                self._follow(socket_)
            except (OSError, ValueError) as exc:
                self._on_state(f"reconnecting: {exc}")
            finally:
                socket_.close()

    def _follow(self, socket_: WebSocket) -> None:
        while not self._stop.is_set():
            text = socket_.receive(READ_TIMEOUT_S)
            if text is None:
                continue
            message = json.loads(text)
            kind = message.get("type")
            if kind == "hello" and self.last_event_id is None:
                self.last_event_id = message.get("last_event_id")
            elif kind == "event":
                self.last_event_id = message.get("id", self.last_event_id)
                self._on_event(message)
            elif kind == "live" and str(message.get("kind", "")).startswith("job."):
                # A running job's progress (not stored, never replayed): handed on under its kind as the
                # action, so `job.` subscribers see the percentage move between status changes. Agents'
                # readings are for the farm page, not the add-on.
                self._on_event({**message, "action": message["kind"]})
            elif kind == "ping":
                socket_.send(0x1, b'{"type": "pong"}')
            elif kind == "overflow":
                self.last_event_id = message.get("last_event_id", self.last_event_id)
                raise WebSocketError("event stream overflowed; resuming")
