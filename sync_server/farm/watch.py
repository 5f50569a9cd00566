"""Agents waiting on their running job: a cancel (or the lease going elsewhere) answers them at once.

An agent keeps one `POST /api/farm/jobs/{id}/watch` open while it runs a job. The route looks at the
job, then waits here until an event about that job reaches this process (from any server process) or
the wait runs out, and looks again. So a wrangler's cancel reaches the agent in milliseconds, not at its
next heartbeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator
from typing import Any


class JobWatch:
    """The waiters of this process, by job id; fed with every job event (`on_event`, `on_commit`)."""

    def __init__(self) -> None:
        self._waiting: dict[str, set[asyncio.Event]] = {}

    def on_event(self, message: dict[str, Any]) -> None:
        if message.get("entity") != "job":
            return
        for event in self._waiting.get(str(message.get("entity_id")), ()):
            event.set()

    def on_commit(self, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            self.on_event(message)

    @contextlib.contextmanager
    def watching(self, job_id: uuid.UUID) -> Iterator[asyncio.Event]:
        """An event set by every change of the job, registered before the caller first looks at it."""
        key, event = str(job_id), asyncio.Event()
        self._waiting.setdefault(key, set()).add(event)
        try:
            yield event
        finally:
            waiters = self._waiting.get(key)
            if waiters is not None:
                waiters.discard(event)
                if not waiters:
                    del self._waiting[key]
