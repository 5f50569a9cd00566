"""The add-on's hand-written WebSocket client checks the server's handshake (no Blender needed)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from blender_addon.core.events import WebSocket, WebSocketError, expected_accept


def test_expected_accept_is_the_rfc_6455_example() -> None:
    assert expected_accept("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def _serve_once(accept: Callable[[str], str]) -> Iterator[str]:
    """A one-connection server that answers 101 with `accept(key)` and then a text frame."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            head = b""
            while b"\r\n\r\n" not in head:
                head += conn.recv(4096)
            key = next(
                line.split(":", 1)[1].strip()
                for line in head.decode().split("\r\n")
                if line.lower().startswith("sec-websocket-key:")
            )
            conn.sendall(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + f"Sec-WebSocket-Accept: {accept(key)}\r\n\r\n".encode()
                + bytes([0x81, 2])
                + b"hi"
            )
            conn.recv(1)  # wait for the client to hang up

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"ws://127.0.0.1:{port}/api/events"
    finally:
        listener.close()
        thread.join(5)


@pytest.fixture
def honest_server() -> Iterator[str]:
    yield from _serve_once(expected_accept)


@pytest.fixture
def wrong_server() -> Iterator[str]:
    yield from _serve_once(lambda key: expected_accept(key + "x"))


def test_a_server_with_the_right_accept_is_followed(honest_server: str) -> None:
    ws = WebSocket(honest_server, timeout_s=5)
    try:
        assert ws.receive(5) == "hi"
    finally:
        ws.close()


def test_a_server_with_a_wrong_accept_is_refused(wrong_server: str) -> None:
    with pytest.raises(WebSocketError, match="Sec-WebSocket-Accept"):
        WebSocket(wrong_server, timeout_s=5)
