"""An import's work (read the file, validate, diff, plan the statements and audit events, and for an apply
write them) in a child process, so none of it holds the server process's GIL: the event loop and the other
requests' threads (heartbeats above all) keep running while a 20,000-row workbook is worked on.

A pool of `spawn`ed processes per app (made by the router's lifespan, shut down with it; its size is
`AIPIPE_SHOTLIST_IMPORT_PROCESSES`). The child opens the database itself: a read session for the plan, then
for an apply a write transaction of its own that takes the same locks as the server's writers (SQLite's
write lock; PostgreSQL's project row) and lasts only for the checks and the statements (`service.apply`).
It hands back the answer's JSON, ready to send, and the audit events it recorded; the server's worker
thread only waits for it and then announces the events."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from ..context import UnitOfWork, prepare_events
from ..db.engine import make_database, make_engine
from ..errors import Unprocessable
from ..events import event_message, pack_messages
from ..spawned import SpawnedPool
from . import bulk, service
from .planned import ImportJob, Planned, Written
from .schemas import Selection
from .settings import ShotlistSettings

logger = logging.getLogger(__name__)


def parse_selection(text: str | None) -> Selection:
    if not text:
        return Selection()
    try:
        return Selection.model_validate(json.loads(text))
    except (ValueError, ValidationError, RecursionError) as exc:
        raise Unprocessable(f"selection is not a valid selection: {exc}", field="selection") from exc


def plan_import(job: ImportJob) -> Planned:
    """Read, validate and diff the file (and for an apply, plan its writes) against the database as a read
    session of a new engine sees it (a preview, in the import process; or inline, in tests)."""
    engine = make_engine(job.database_url, pool_size=1)
    try:
        return plan_with(engine, job)
    finally:
        engine.dispose()


def apply_import(job: ImportJob) -> Written:
    """Plan the apply in a read session, then write it in a write transaction of this process's own, and
    commit (in the import process: the server process only announces the events)."""
    database = make_database(job.database_url, pool_size=1)
    try:
        with database.write_sessions() as session:
            uow = UnitOfWork(
                session=session,
                hub=None,  # the server announces the events once this answers
                actor=job.actor,
                request_id=job.request_id,
                remote_addr=job.remote_addr,
            )
            written = service.apply(
                uow, lambda: plan_with(database.engine, job), job.project_id, job.filename
            )
    finally:
        database.dispose()
    # The events as the server announces them, made here: plain dicts unpickle in the server about ten
    # times faster than audit-event objects (uuids, datetimes, ORM state), which held its GIL ~0.5 s; and
    # packed in slices, which the server unpickles one at a time (one call for all held its GIL ~0.4 s).
    written.events = pack_messages([event_message(event) for event in written.events])
    return written


def plan_with(engine: Engine, job: ImportJob) -> Planned:
    """Read, validate and diff the file, and for an apply plan its writes, in a read session of `engine`."""
    started = time.process_time()
    chosen = parse_selection(job.selection) if job.apply else None
    with Session(engine) as session:
        result = service.preview(session, job.project_id, job.filename, job.content, job.settings, job.actor)
        writes = None
        if chosen is not None:
            origin = bulk.Origin(job.actor, job.request_id, job.remote_addr)
            writes = service.plan(origin, result, chosen)
            # The audit events' and change items' rows too: the write transaction only runs the INSERTs.
            writes.prepared = prepare_events(engine.dialect, writes.events)
        preview = json.dumps(result.as_dict(), ensure_ascii=False, default=str).encode()
        return Planned(
            preview=preview,
            pid=os.getpid(),
            cpu_s=time.process_time() - started,
            rows=result.rows_read,
            writes=writes,
            project_revision=result.project.revision if result.project is not None else None,
            revisions={shot_id: shot.revision for shot_id, shot in result.current.items()},
            names=result.names,
        )


class ImportProcesses:
    """The app's pool of import processes. A child that dies (killed, out of memory on a hostile file)
    breaks the pool: that import is refused and the next one gets a fresh pool."""

    def __init__(self, size: int, nice: int = 0) -> None:
        self.size = size
        # Processes start on the first imports, not with the server; at a lower CPU priority than it.
        self._pool = SpawnedPool(size, nice)

    def preview(self, job: ImportJob) -> bytes:
        """The preview's JSON, made in an import process (the calling thread waits, without the GIL)."""
        planned: Planned = self._run(plan_import, job)
        self._log(planned, job)
        return planned.preview

    def apply(self, job: ImportJob) -> Written:
        """Plan and write the apply in an import process (the calling thread waits, without the GIL)."""
        written: Written = self._run(apply_import, job)
        self._log(written.planned, job)
        logger.info(
            "shot list import written",
            extra={
                "worker_pid": written.planned.pid,
                "rows": written.planned.rows,
                "lock_wait_s": round(written.lock_wait_s, 3),
                "write_s": round(written.write_s, 3),  # the lock held (SQLite: the write lock)
                "write_cpu_s": round(written.write_cpu_s, 3),
                "replanned": written.replanned,
            },
        )
        return written

    def _run(self, work: Callable[[ImportJob], Any], job: ImportJob) -> Any:
        return self._pool.run(
            work,
            job,
            broken=lambda: Unprocessable(
                f"{job.filename}: the import process ended before it answered (out of memory, or killed); "
                "preview the file again to see what was applied.",
                field="file",
            ),
        )

    def _log(self, planned: Planned, job: ImportJob) -> None:
        logger.info(
            "shot list import planned in a worker process",
            extra={
                "worker_pid": planned.pid,
                "server_pid": os.getpid(),
                "rows": planned.rows,
                "cpu_s": round(planned.cpu_s, 3),
                "apply": job.apply,
            },
        )

    def close(self) -> None:
        self._pool.close()


@asynccontextmanager
async def import_processes_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The app's import processes: made at start-up, shut down with the app."""
    settings = getattr(app.state, "shotlist_settings", None) or ShotlistSettings()
    app.state.shotlist_settings = settings
    services = getattr(app.state, "services", None)
    nice = services.settings.background_nice if services is not None else 0
    processes = ImportProcesses(settings.import_processes, nice)
    app.state.shotlist_processes = processes
    try:
        yield
    finally:
        processes.close()
