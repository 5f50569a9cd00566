"""Run the ComfyUI stand-in as a real uvicorn server on a free loopback port.

Use `running_standin(root)` directly, or the `comfy_standin` fixture (import it into a test module or
register this module in a conftest with `pytest_plugins = ["tests.comfyui_standin.fixtures"]`).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from PIL import Image

from .server import StandinComfy


@dataclass
class RunningStandin:
    """A started stand-in: `url` for HTTP (and `ws_url`), `comfy` for its state and test knobs."""

    comfy: StandinComfy
    url: str

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://", 1) + "/ws"


@contextlib.contextmanager
def running_standin(root: Path, **options: Any) -> Iterator[RunningStandin]:
    """Start a stand-in rooted at `root` (input/output/temp folders) and stop it afterwards."""
    comfy = StandinComfy(root, **options)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(comfy.app, log_level="warning", ws_ping_interval=None, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="comfy-standin"
    )
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the ComfyUI stand-in did not start")
        time.sleep(0.01)
    try:
        yield RunningStandin(comfy, f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture
def comfy_standin(tmp_path: Path) -> Iterator[RunningStandin]:
    """A fresh ComfyUI stand-in per test, its folders under tmp_path/comfy."""
    with running_standin(tmp_path / "comfy") as standin:
        yield standin


def write_probe_image(path: Path, size: tuple[int, int] = (640, 360)) -> Path:
    """A small RGB PNG with a gradient, like the captured runs' `probe_first.png`."""
    image = Image.new("RGB", size)
    image.putdata(
        [(x * 255 // size[0], y * 255 // size[1], 128) for y in range(size[1]) for x in range(size[0])]
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path
