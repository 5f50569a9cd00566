"""A breakdown's work in a child process: making a draft (the LLM's reply read, checked and merged; the draft
stored) and applying one (planning hundreds of scenes and shots with their audit events, then writing them).
None of it holds the server process's GIL: the event loop and the other requests' threads (heartbeats above
all) keep running while a 600-shot draft is made or applied.

A pool of `spawn`ed processes per app (`AIPIPE_BREAKDOWN_PROCESSES`, started on the first breakdown, at
`AIPIPE_BACKGROUND_NICE`; made by the router's lifespan, shut down with it). The child opens the database
itself and does exactly what the route did in its thread (`service.create_draft`, `apply.apply_draft`): the
same transactions, checks and refusals (an `ApiError` comes back as itself). It hands back the answer's
JSON, ready to send, and the audit events it committed, already made into the messages the server's event
hub announces."""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI

from ..context import Principal, UnitOfWork
from ..db.engine import make_database
from ..errors import Unprocessable
from ..events import event_message, pack_messages
from ..settings import Settings
from ..spawned import SpawnedPool
from . import service
from .apply import timed_apply
from .schemas import BreakdownCreate

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Caller:
    """Who asked, as the audit events record it (plain data: it is pickled to the child)."""

    actor: Principal
    request_id: str | None = None
    remote_addr: str | None = None


@dataclass
class Done:
    """What the child hands back: the answer's JSON, the committed events as messages, who did it."""

    answer: bytes
    events: list[bytes] = field(default_factory=list)  # the messages, packed (`events.pack_messages`)
    pid: int = 0
    cpu_s: float = 0.0
    timings: dict[str, Any] | None = None  # a draft apply's plan and write times (logged by the server)


class Collected:
    """The child's stand-in for the event hub: the events each commit announces, kept as messages for the
    server to announce (`EventHub.announce_messages`)."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def announce(self, events: list[Any]) -> None:
        self.messages += [event_message(event) for event in events]


def create_in_child(settings: Settings, caller: Caller, project_id: uuid.UUID, body: BreakdownCreate) -> Done:
    """(In a breakdown process.) `service.create_draft` against the database, as the route's thread did."""
    started = time.process_time()
    database = make_database(settings.resolved_database_url, pool_size=1)
    collected = Collected()

    @contextmanager
    def write_uow() -> Iterator[UnitOfWork]:
        with database.write_sessions() as session:
            yield _uow(session, collected, caller)

    try:
        out = service.create_draft(settings, write_uow, project_id, body)
        answer = out.model_dump_json().encode()
    finally:
        database.dispose()
    return Done(answer, pack_messages(collected.messages), os.getpid(), time.process_time() - started)


def apply_in_child(database_url: str, caller: Caller, draft_id: uuid.UUID, revision: int) -> Done:
    """(In a breakdown process.) `apply_draft`, planned in a read session, written in one transaction."""
    started = time.process_time()
    database = make_database(database_url, pool_size=1)
    collected = Collected()
    try:
        with database.write_sessions() as session:
            uow = _uow(session, collected, caller)
            out, timings = timed_apply(uow, draft_id, revision, read=database.read_sessions)
        answer = out.model_dump_json().encode()
    finally:
        database.dispose()
    cpu = time.process_time() - started
    return Done(answer, pack_messages(collected.messages), os.getpid(), cpu, timings)


def _uow(session: Any, collected: Collected, caller: Caller) -> UnitOfWork:
    return UnitOfWork(
        session=session,
        hub=collected,  # type: ignore[arg-type]  # announce() is all a unit of work calls on its hub
        actor=caller.actor,
        request_id=caller.request_id,
        remote_addr=caller.remote_addr,
    )


class BreakdownProcesses:
    """The app's pool of breakdown processes. A child that dies (killed, out of memory) breaks the pool:
    that call is refused and the next one gets a fresh pool."""

    def __init__(self, size: int, nice: int = 0) -> None:
        self.size = size
        self._pool = SpawnedPool(size, nice)

    def run(self, what: str, work: Callable[..., Done], *args: Any) -> Done:
        """`work(*args)` in a breakdown process (call from a worker thread: it waits without the GIL)."""
        done: Done = self._pool.run(
            work,
            *args,
            broken=lambda: Unprocessable(
                f"the breakdown process ended before it answered (out of memory, or killed) while {what}; "
                "nothing of it was stored unless the breakdown shows it: read it again.",
                field="id",
            ),
        )
        if done.timings is not None:
            logger.info("breakdown draft applied", extra={**done.timings, "worker_pid": done.pid})
        logger.info(
            "breakdown work done in a worker process",
            extra={
                "what": what,
                "worker_pid": done.pid,
                "server_pid": os.getpid(),
                "cpu_s": round(done.cpu_s, 3),
                "events": len(done.events),
            },
        )
        return done

    def close(self) -> None:
        self._pool.close()


@asynccontextmanager
async def breakdown_processes_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The app's breakdown processes: made at start-up (started on first use), shut down with the app."""
    services = app.state.services
    settings = services.settings
    processes = BreakdownProcesses(settings.breakdown_processes, settings.background_nice)
    app.state.breakdown_processes = processes
    try:
        yield
    finally:
        processes.close()
