"""Helpers for add-on tests in real Blender: a studio on a real server, pumping the apply queue, a proxy."""

from __future__ import annotations

import contextlib
import io
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from PIL import Image

from tests.support.api import login
from tests.support.server import ServerProcess

ADMIN = "admin_blender"


def pump(
    until: Callable[[], bool], timeout_s: float = 30.0, what: str = "the add-on", errors_ok: bool = False
) -> None:
    """Run the add-on's main-thread apply queue (timers do not fire in module mode) until `until()`.
    An error shown in the panel ends the wait at once unless `errors_ok`."""
    from blender_addon import runtime

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        runtime.drain()
        if until():
            return
        rt = runtime.get() if runtime.is_ready() else None
        if rt and not errors_ok and rt.message.level == "ERROR":
            raise AssertionError(f"waiting for {what}: {rt.message.text}")
        time.sleep(0.01)
    rt = runtime.get() if runtime.is_ready() else None
    message = rt.message.text if rt else "not registered"
    raise AssertionError(f"timed out waiting for {what}; last message: {message}")


def idle() -> bool:
    from blender_addon import runtime

    rt = runtime.get()
    return not rt.worker.busy and rt.worker.pending() == 0


@dataclass
class Studio:
    """A real server: one project (23.976 fps), a scene, shots, an editor's account (may change durations)."""

    server: ServerProcess
    admin: httpx.Client
    artist: str
    artist_password: str
    project: dict[str, Any]
    scene: dict[str, Any]
    shots: list[dict[str, Any]] = field(default_factory=list)
    preset: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.url

    def shot(self, index: int = 0) -> dict[str, Any]:
        return self.admin.get(f"/api/shots/{self.shots[index]['id']}").json()


def make_studio(server: ServerProcess, admin_password: str) -> Studio:
    admin = login(server.url, ADMIN, admin_password)
    password = secrets.token_urlsafe(12)
    created = admin.post("/api/users", json={"username": "rina", "password": password, "role": "editor"})
    assert created.status_code == 201, created.text
    project = admin.post(
        "/api/projects",
        json={"code": "NIGHT", "name": "Night Alley", "fps": "23.976", "width": 1280, "height": 720},
    ).json()
    scene = admin.post(f"/api/projects/{project['id']}/scenes", json={}).json()
    presets = admin.get(f"/api/projects/{project['id']}/presets", params={"limit": 500}).json()["items"]
    preset = next(p for p in presets if p["lens_mm"] not in (35.0, 50.0))
    shots = []
    for duration, handles in ((12, 4), (36, 0)):
        body = {
            "scene_id": scene["id"],
            "duration_frames": duration,
            "handle_in": handles,
            "handle_out": handles,
        }
        body.update(preset_id=preset["id"], description="Rina runs through the rain", status="ready")
        response = admin.post(f"/api/projects/{project['id']}/shots", json=body)
        assert response.status_code == 201, response.text
        shots.append(response.json())
    approve_first_frame(admin, shots[0]["id"])
    return Studio(server, admin, "rina", password, project, scene, shots, preset)


def approve_first_frame(admin: httpx.Client, shot_id: str) -> dict[str, Any]:
    """Publish a previz image and approve it, as a director would."""
    buffer = io.BytesIO()
    Image.new("RGB", (320, 180), (200, 40, 40)).save(buffer, "PNG")
    files = {"files": ("first_frame.png", buffer.getvalue(), "image/png")}
    version = admin.post(f"/api/shots/{shot_id}/versions", data={"stage": "previz"}, files=files)
    assert version.status_code == 201, version.text
    verdict = admin.post(f"/api/versions/{version.json()['id']}/reviews", json={"verdict": "approve"})
    assert verdict.status_code == 201, verdict.text
    return version.json()


class SlowProxy:
    """A TCP proxy on loopback that holds each new connection for `delay_s` before passing it on."""

    def __init__(self, target_port: int, delay_s: float) -> None:
        self.delay_s = delay_s
        self._target = ("127.0.0.1", target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        self._listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # closed
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        time.sleep(self.delay_s)
        upstream = socket.create_connection(self._target)
        pipes = [
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True),
            threading.Thread(target=self._pipe, args=(upstream, client), daemon=True),
        ]
        for pipe in pipes:
            pipe.start()

    @staticmethod
    def _pipe(source: socket.socket, target: socket.socket) -> None:
        # Either side may hang up at any moment; the proxy just stops forwarding then.
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                target.sendall(chunk)
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._stop.set()
        self._listener.close()


class GatedProxy(SlowProxy):
    """A proxy that holds every new connection until `open()` (or, as a safety net, `hold_s`).

    A test closes the gate, calls an operator and then checks `opened`: an operator that waited for the
    server could only have returned after the gate let its connection through, however busy the machine."""

    def __init__(self, target_port: int, hold_s: float = 20.0) -> None:
        self.hold_s = hold_s
        self._gate = threading.Event()
        self._lock = threading.Lock()
        self.opened = False  # True once a held connection went through (by `open()` or after `hold_s`)
        self.held = 0  # connections that arrived while the gate was closed
        super().__init__(target_port, delay_s=0.0)

    def close_gate(self) -> None:
        with self._lock:
            self._gate.clear()
            self.opened = False

    def open(self) -> None:
        self._gate.set()

    def _serve(self, client: socket.socket) -> None:
        with self._lock:
            closed = not self._gate.is_set()
            self.held += closed
        if closed and not self._gate.wait(self.hold_s):
            self._gate.set()  # nobody opened it: let everything through rather than hang the test
        with self._lock:
            self.opened = self.opened or closed
        super()._serve(client)
