"""Work in spawned processes: CPU-heavy work (a shot-list import, a camera solve) runs in a child process,
so it holds neither the event loop nor the server process's GIL; the calling worker thread only waits.

`SpawnedPool` is one lazily started `ProcessPoolExecutor` of `spawn`ed processes (a fork of a threaded
server would copy its locks mid-use, and the event loop). Each child watches its parent and ends when the
server process is gone. A child that dies breaks the pool: that call is refused (with the caller's error)
and the next one gets a fresh pool.

Heavy work runs at a lower CPU priority (`nice`, `Settings.background_nice`): on a busy machine the server
process's event loop and request threads get the CPU first; the work still gets every idle cycle. Child
programs (ffmpeg) go through `niced`."""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from .errors import ApiError

PARENT_POLL_S = 1.0  # how often a spawned process checks that the server process is still there

logger = logging.getLogger(__name__)


def lower_priority(nice: int) -> None:
    """Add `nice` to this process's niceness (never raises it back: an unprivileged process cannot)."""
    if nice <= 0 or not hasattr(os, "nice"):
        return
    try:
        os.nice(nice)
    except OSError as exc:
        logger.warning("could not lower this process's CPU priority", extra={"error": str(exc)})


def niced(command: list[str], nice: int) -> list[str]:
    """`command` to run at `nice` more niceness than this process (through `nice`, where there is one)."""
    program = shutil.which("nice") if nice > 0 else None
    return [program, "-n", str(nice), *command] if program else command


def start_child(parent: int, nice: int = 0) -> None:
    """(The initializer of each spawned process.) Follow the server process and step aside for it."""
    follow_parent(parent)
    lower_priority(nice)


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
    """A pool of `size` spawned processes, started on the first call (not with the server), each at
    `nice` more niceness than the server."""

    def __init__(self, size: int, nice: int = 0) -> None:
        self.size = size
        self.nice = nice
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None

    def _current(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    self.size,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=start_child,
                    initargs=(os.getpid(), self.nice),
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
