"""Work in spawned processes: CPU-heavy work (a shot-list import, a camera solve) runs in a child process,
so it holds neither the event loop nor the server process's GIL; the calling worker thread only waits.

`SpawnedPool` is one lazily started `ProcessPoolExecutor` of `spawn`ed processes (a fork of a threaded
server would copy its locks mid-use, and the event loop). Each child watches its parent and ends when the
server process is gone. A child that dies breaks the pool: that call is refused (with the caller's error)
and the next one gets a fresh pool."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from .errors import ApiError

PARENT_POLL_S = 1.0  # how often a spawned process checks that the server process is still there


def follow_parent(parent: int) -> None:
    """(In each spawned process, at its start.) End when the server process is gone: a server killed with
    SIGKILL never shuts its pool down, and its processes would wait for work for ever. A write under way
    ends with them, uncommitted (the database rolls it back)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os._exit(0)

    threading.Thread(target=watch, name="aipipe-spawned-parent", daemon=True).start()


class SpawnedPool:
    """A pool of `size` spawned processes, started on the first call (not with the server)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None

    def _current(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    self.size,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=follow_parent,
                    initargs=(os.getpid(),),
                )
            return self._pool

    def run(self, work: Callable[..., Any], *args: Any, broken: Callable[[], ApiError]) -> Any:
        """`work(*args)` in a spawned process (call from a worker thread: it waits without the GIL). When
        the process dies before it answers, the pool is dropped and `broken()`'s error is raised."""
        pool = self._current()
        try:
            return pool.submit(work, *args).result()
        except BrokenProcessPool as exc:
            with self._lock:
                if self._pool is pool:
                    self._pool = None
            pool.shutdown(wait=False, cancel_futures=True)
            raise broken() from exc

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
