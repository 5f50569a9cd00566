"""The app's camera-solve processes: the solve (0.1–1 s of numpy and OpenCV) runs in a spawned child, so it
holds neither the event loop nor the server process's GIL; the calling worker thread only waits."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from ..camera_solve import CameraSolution
from ..errors import ApiError, Unprocessable
from ..spawned import SpawnedPool
from .service import SolvePlan, run_solve
from .settings import CameraSettings

logger = logging.getLogger(__name__)


def solve_in_child(plan: SolvePlan, max_pixels: int) -> tuple[str, Any, str | None, int]:
    """(In a solve process.) The solution as JSON, or the refusal's text and field (an ApiError does not
    survive pickling with its field); and this process's id."""
    try:
        return "ok", run_solve(plan, max_pixels).model_dump(mode="json"), None, os.getpid()
    except ApiError as exc:
        field = exc.errors[0]["field"] if exc.errors else None
        return "refused", exc.detail, field, os.getpid()


class SolveProcesses:
    """A pool of `size` spawned processes, started on the first solve. A child that dies breaks the pool:
    that solve is refused and the next one gets a fresh pool."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._pool = SpawnedPool(size)

    def solve(self, plan: SolvePlan, max_pixels: int) -> CameraSolution:
        """Solve in a child process (call from a worker thread: it waits without the GIL)."""
        outcome, value, field, worker = self._pool.run(
            solve_in_child,
            plan,
            max_pixels,
            broken=lambda: Unprocessable(
                "the solve process ended while solving this picture", field="version_id"
            ),
        )
        logger.info(
            "camera solved in a solve process",
            extra={
                "worker_pid": worker,
                "server_pid": os.getpid(),
                "version_id": str(plan.version_id),
                "outcome": outcome,
                "cpu_s": round(float(value.get("seconds", 0.0)), 3) if outcome == "ok" else None,
            },
        )
        if outcome != "ok":
            raise Unprocessable(str(value), field=field)
        return CameraSolution.model_validate(value)

    def close(self) -> None:
        self._pool.close()


@asynccontextmanager
async def solve_processes_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The app's solve processes: made at start-up (started on the first solve), shut down with the app."""
    settings = getattr(app.state, "camera_settings", None) or CameraSettings()
    app.state.camera_settings = settings
    processes = SolveProcesses(settings.solve_workers)
    app.state.camera_solve_processes = processes
    try:
        yield
    finally:
        processes.close()
