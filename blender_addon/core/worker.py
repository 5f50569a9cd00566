"""One background worker for the whole add-on, and the main-thread apply queue.

Blender's data may only be touched on the main thread, and the network must never be waited on there.
So every slow call goes through `Worker.submit(fn, on_done=..., on_error=...)`: `fn` runs on a worker
thread; its result (or exception) is queued, and `Worker.drain()` — called on the main thread by a
`bpy.app.timers` callback in the add-on, or explicitly by tests (timers do not fire in module mode) —
runs the callbacks there. Any thread may queue main-thread work with `Worker.post(callback)`.

    task = worker.submit(lambda ctx: client.get("/api/projects"), on_done=show, label="Loading projects")
    # main thread returns at once; later, drain() calls show(result)

`fn` receives a `TaskContext`: `ctx.progress(fraction, text)` updates `task.progress`/`task.text` (the
panel draws them), `ctx.cancelled` turns True after `task.cancel()`.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)
DRAIN_BUDGET_S = 0.02  # the most main-thread time one drain() spends on callbacks


@dataclass
class Task:
    """One piece of background work, as the panel shows it."""

    label: str
    progress: float = 0.0
    text: str = ""
    done: bool = False
    error: BaseException | None = None
    result: Any = None
    started_at: float = field(default_factory=time.monotonic)
    long: bool = False
    """Long work (a timeline build, a playblast, an upload): Blender's progress indicator follows it."""
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)

    def cancel(self) -> None:
        self._cancel.set()


class TaskContext:
    """What `fn` sees: progress reporting and the cancel flag of its task."""

    def __init__(self, task: Task) -> None:
        self._task = task

    def progress(self, fraction: float, text: str = "") -> None:
        self._task.progress = max(0.0, min(1.0, fraction))
        if text:
            self._task.text = text

    @property
    def cancelled(self) -> bool:
        return self._task._cancel.is_set()


Callback = Callable[[Any], None]


class Worker:
    """Worker threads fed by a queue; results come back through `drain()` on the main thread."""

    def __init__(self, threads: int = 2, name: str = "aipipe-worker") -> None:
        self._jobs: queue.Queue[
            tuple[Task, Callable[[TaskContext], Any], Callback | None, Callback | None]
        ] = queue.Queue()
        self._applies: queue.Queue[Callable[[], None]] = queue.Queue()
        self._threads = [
            threading.Thread(target=self._run, name=f"{name}-{i}", daemon=True) for i in range(threads)
        ]
        self._stopping = threading.Event()
        self.tasks: list[Task] = []
        self._lock = threading.Lock()
        for thread in self._threads:
            thread.start()

    # -- any thread ---------------------------------------------------------------------------------

    def submit(
        self,
        fn: Callable[[TaskContext], Any],
        *,
        on_done: Callback | None = None,
        on_error: Callback | None = None,
        label: str = "",
        long: bool = False,
    ) -> Task:
        """Queue `fn(ctx)` for a worker thread; returns at once. Callbacks run later, in `drain()`."""
        if self._stopping.is_set():
            raise RuntimeError("the AIPipeline worker is stopped")
        task = Task(label or getattr(fn, "__name__", "task"), long=long)
        with self._lock:
            self.tasks.append(task)
        self._jobs.put((task, fn, on_done, on_error))
        return task

    def post(self, callback: Callable[[], None]) -> None:
        """Run `callback()` on the main thread at the next `drain()`."""
        self._applies.put(callback)

    @property
    def busy(self) -> list[Task]:
        """Tasks queued or running, oldest first."""
        with self._lock:
            return [t for t in self.tasks if not t.done]

    # -- main thread --------------------------------------------------------------------------------

    def drain(self, budget_s: float = DRAIN_BUDGET_S) -> int:
        """Run queued main-thread callbacks for at most `budget_s`; returns how many ran."""
        deadline = time.monotonic() + budget_s
        count = 0
        while True:
            try:
                callback = self._applies.get_nowait()
            except queue.Empty:
                break
            try:
                callback()
            except Exception:
                log.exception("AIPipeline: a main-thread callback failed")
            count += 1
            if time.monotonic() >= deadline:
                break
        return count

    def pending(self) -> int:
        """Main-thread callbacks waiting for `drain()`."""
        return self._applies.qsize()

    def stop(self, timeout_s: float = 2.0) -> None:
        """Ask the threads to finish (running calls end on their own timeouts); idempotent."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        with self._lock:
            for task in self.tasks:
                task.cancel()
        for _ in self._threads:
            self._jobs.put(None)  # type: ignore[arg-type]
        for thread in self._threads:
            thread.join(timeout_s)

    # -- worker threads -----------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            item = self._jobs.get()
            if item is None:
                return
            task, fn, on_done, on_error = item
            if task._cancel.is_set():
                self._finish(task, None, RuntimeError(f"{task.label}: cancelled"), on_done, on_error)
                continue
            try:
                result, error = fn(TaskContext(task)), None
            except Exception as exc:
                result, error = None, exc
                log.debug("AIPipeline task %s failed:\n%s", task.label, traceback.format_exc())
            self._finish(task, result, error, on_done, on_error)

    def _finish(
        self,
        task: Task,
        result: Any,
        error: BaseException | None,
        on_done: Callback | None,
        on_error: Callback | None,
    ) -> None:
        def apply() -> None:
            task.done, task.result, task.error = True, result, error
            task.progress = 1.0
            with self._lock:
                if task in self.tasks:
                    self.tasks.remove(task)
            if error is None:
                if on_done:
                    on_done(result)
            elif on_error:
                on_error(error)
            else:
                log.error("AIPipeline: %s failed: %s", task.label, error)

        self._applies.put(apply)
