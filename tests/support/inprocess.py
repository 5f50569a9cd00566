"""The real app from the factory, served by uvicorn on loopback in a thread of the test process.

For tests that must look inside the running server (its subscribers, its asyncio tasks) or add a fault
to it; everything else starts `aipipe server` as a subprocess (tests/support/server.py).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import uvicorn
from fastapi import FastAPI

from tests.support.server import free_port

START_TIMEOUT_S = 30.0
T = TypeVar("T")


@dataclass
class InProcessServer:
    app: FastAPI
    port: int
    loop: asyncio.AbstractEventLoop

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def run(self, make: Callable[[], Awaitable[T]], timeout: float = 10.0) -> T:
        """Run a coroutine on the server's event loop and return its result."""
        return asyncio.run_coroutine_threadsafe(_call(make), self.loop).result(timeout)

    def task_count(self) -> int:
        """asyncio tasks alive on the server's loop (this check's own task not counted)."""
        return self.run(_other_tasks)


async def _call(make: Callable[[], Awaitable[T]]) -> T:
    return await make()


async def _other_tasks() -> int:
    return len(asyncio.all_tasks() - {asyncio.current_task()})


@contextmanager
def serve_in_process(app: FastAPI) -> Iterator[InProcessServer]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    loops: list[asyncio.AbstractEventLoop] = []

    async def serve() -> None:
        loops.append(asyncio.get_running_loop())
        await server.serve()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True, name="inprocess-server")
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the in-process server did not start"
        time.sleep(0.02)
    try:
        yield InProcessServer(app, port, loops[0])
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def wait_until(check: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll `check` until it returns something true, or fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what} (last: {value!r})"
        time.sleep(0.02)
