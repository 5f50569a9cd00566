"""Proxy movies as server-side background jobs: a row to poll, a worker thread that runs each render.

One `ProxyJobs` per app, built when the app starts (see `routes.proxy_jobs_lifespan`) and reached through
the `ProxyJobsDep` dependency; never a module global. Each render is a `proxy_renders` row whose status
and progress the API serves; the movie lands in `edit/proxy/vNNN/`. The worker thread reads the edit and
records the start and the end; the render itself (driving ffmpeg, checking each segment, the join, the
progress writes) runs in a spawned child process at `AIPIPE_BACKGROUND_NICE`, so none of it holds the
server process's GIL.

A request for the proxy of an unchanged edit (same `edit_key`: cuts, media files, rate, size, burn-ins, the
proxy code's version) is answered with the render already made, or on its way, and runs nothing; requests
are taken one at a time per process, so two at once for the same edit make one render.

Whether a render is still on its way is known only to the process that holds it: each `ProxyJobs` writes a
heartbeat (`heartbeat_at`) on the renders it holds, queued or running, every
`editorial_proxy_heartbeat_s`, so another server process on the same database reuses such a render while
the heartbeat is fresh. One whose heartbeat is older than `editorial_proxy_stale_s` was left by a process
that stopped: it is never the answer, and it is marked failed (by a request for its edit, or by any
process's heartbeat thread), so the API does not show it `running` for ever. A render also names the
process holding it (`holder`): a process of the same machine knows at once when that one is gone (killed,
crashed), without waiting for its heartbeat to go stale; one stopped the usual way fails its renders as
it stops (`close`).
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Row, func, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from aipipe_shared.framerate import fps_text
from aipipe_shared.naming import PathOutsideRootError, resolve_inside

from ..context import SYSTEM, Principal, UnitOfWork
from ..crud import get_or_404
from ..db.engine import Database, make_database
from ..db.models import Project
from ..db.models_editorial import ProxyRender
from ..errors import Conflict, Unprocessable
from ..events import EventHub
from ..settings import Settings
from ..spawned import SpawnedPool
from ..storage.layout import ProjectLayout
from . import holder as holders
from .edit import load_edit
from .proxy import ProxyError, ProxyResult, ProxySpec, edit_key, render_proxy
from .schemas import ProxyRenderOut
from .timeline import EditShot

logger = logging.getLogger(__name__)
SEGMENT_CACHE = ".segments"
PROGRESS_STEP = 0.05  # write progress to the database at most every 5 %
ACTIVE = ("queued", "running")
ABANDONED = "the server process rendering it stopped; start it again"
STOPPED = "the server was stopped while this proxy was queued or rendering; ask for it again"


def write_progress(db: Database, render_id: uuid.UUID, value: float) -> None:
    with db.write_sessions() as session:
        row = session.get(ProxyRender, render_id)
        if row is not None:
            row.progress = round(min(value, 0.99), 3)
            session.commit()


def render_in_child(
    database_url: str, render_id: uuid.UUID, shots: list[EditShot], spec: ProxySpec, cache: Path, output: Path
) -> tuple[ProxyResult, int]:
    """(In the proxy process.) `render_proxy`, writing the render's progress as it goes; and this process."""
    db = make_database(database_url, pool_size=1)
    last = [0.0]

    def progress(value: float) -> None:
        if value - last[0] >= PROGRESS_STEP or value >= 1.0:
            last[0] = value
            write_progress(db, render_id, value)

    try:
        return render_proxy(shots, spec, cache, output, progress), os.getpid()
    finally:
        db.dispose()


def proxy_size(width: int, height: int, proxy_height: int) -> tuple[int, int]:
    """Proxy size: `proxy_height` (never above the project's), the project's aspect, even numbers."""
    h = min(proxy_height, height) // 2 * 2
    w = max(2, round(width * h / height / 2) * 2)
    return w, max(2, h)


class ProxyJobs:
    """Queues proxy renders and runs them one at a time on a worker thread; a heartbeat thread keeps the
    renders it holds marked alive and fails those that other, stopped, processes left."""

    def __init__(self, db: Database, hub: EventHub | None, settings: Settings) -> None:
        self._db = db
        self._hub = hub
        self._settings = settings
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="aipipe-proxy")
        self._process = SpawnedPool(1, settings.background_nice)  # started on the first render
        self._lock = threading.Lock()
        self._submitting = threading.Lock()  # one request at a time: the same edit twice at once, one render
        self._running: dict[uuid.UUID, Future[None]] = {}  # queued or running here: the heartbeat's renders
        self._stopping = threading.Event()
        self._holder = holders.this_process()  # written on the renders this process queues
        self._heartbeat = threading.Thread(target=self._beat, name="aipipe-proxy-heartbeat", daemon=True)
        self._heartbeat.start()

    def close(self) -> None:
        """Stop (the server is shutting down): the renders this process holds are failed at once, saying
        so, rather than left `running` with a fresh heartbeat that a restarted server would take for a live
        render for `editorial_proxy_stale_s`. Their spawned process ends with the server's."""
        self._stopping.set()
        with self._lock:
            held = list(self._running)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._process.close()
        self._heartbeat.join(timeout=5)
        if not held:
            return
        try:
            self._fail(held, STOPPED)
        except SQLAlchemyError:
            logger.warning(
                "proxy renders of a stopping server not marked failed: the next server does once their "
                "heartbeat is stale",
                exc_info=True,
                extra={"render_ids": [str(render_id) for render_id in held]},
            )

    def submit(self, project_id: uuid.UUID, actor: Principal) -> ProxyRenderOut:
        """Queue a render of the project's edit as the next `vNNN` and return the queued row; or, when the
        edit is unchanged since a render (same `edit_key`), return that render."""
        with self._submitting:
            return self._submit(project_id, actor)

    def _submit(self, project_id: uuid.UUID, actor: Principal) -> ProxyRenderOut:
        root = self._settings.resolved_storage_root
        with self._db.read_sessions() as session:
            edit = load_edit(session, project_id, root)
            size = proxy_size(edit.project.width, edit.project.height, self._settings.editorial_proxy_height)
            key = edit_key(edit.shots, self._spec(edit.project, *size)) if edit.shots else None
        with self._db.write_sessions() as session:
            uow = UnitOfWork(session=session, hub=self._hub, actor=actor)
            project = get_or_404(session, Project, project_id, "project")
            system = UnitOfWork(session=session, hub=self._hub, actor=SYSTEM)  # marks abandoned renders
            made = self._made(system, project.id, key)
            if made is not None:
                system.commit()
                return ProxyRenderOut.of(made)
            last = session.scalar(
                select(func.max(ProxyRender.number)).where(ProxyRender.project_id == project.id)
            )
            number = (last or 0) + 1
            layout = ProjectLayout.of(project, root)
            folder = (
                f"{layout.build('edit_proxy_dir')}/{layout.templates.build('version_code', version=number)}"
            )
            width, height = size
            row = ProxyRender(
                id=uuid.uuid4(),
                project_id=project.id,
                number=number,
                path=f"{folder}/{project.code}_edit_v{number:03d}.mp4",
                fps=fps_text(project.fps_num, project.fps_den),
                width=width,
                height=height,
                created_by=actor.name,
                edit_key=key,
                heartbeat_at=datetime.now(UTC),  # held from the start: another process waits for it
                holder=self._holder,
            )
            session.add(row)
            try:
                session.flush()
            except IntegrityError as exc:
                # Another server process queued a render meanwhile: of the same edit, that one is the answer.
                session.rollback()
                other = session.scalar(
                    select(ProxyRender).where(
                        ProxyRender.project_id == project_id, ProxyRender.number == number
                    )
                )
                if key is not None and other is not None and other.edit_key == key:
                    return ProxyRenderOut.of(other)
                raise Conflict("Another proxy render took the same number; start it again.") from exc
            out = ProxyRenderOut.of(row)
            uow.record(
                "proxy.queued", "proxy", row.id, project_id=project.id, data=out.model_dump(mode="json")
            )
            system.commit()  # commits both units' work; its events (recorded first) announced first
            uow.commit()
        with self._lock:
            self._running[out.id] = self._pool.submit(self._run, out.id)
        return out

    def _made(self, uow: UnitOfWork, project_id: uuid.UUID, key: str | None) -> ProxyRender | None:
        """The newest render of the edit of `key` that succeeded and whose movie is still there, or that a
        live server process (this one, or one whose heartbeat on it is fresh) holds queued or running. A
        render whose process stopped is never the answer: it is marked failed on the way (in `uow`)."""
        if key is None:
            return None
        rows = uow.session.scalars(
            select(ProxyRender)
            .where(ProxyRender.project_id == project_id, ProxyRender.edit_key == key)
            .order_by(ProxyRender.number.desc())
        )
        fresh_since = self._fresh_since()
        for row in rows:
            if row.status == "succeeded" and self._movie_exists(row.path):
                return row
            if row.status in ACTIVE:
                if self._holds(row.id) or self._alive(row, fresh_since):
                    return row
                self._abandon(uow, row)
        return None

    def _alive(self, row: ProxyRender | Row[Any], fresh_since: datetime) -> bool:
        """Whether another process holds `row` still: its heartbeat is fresh and its process, where this
        process can tell (the same machine), is running."""
        fresh = row.heartbeat_at is not None and row.heartbeat_at >= fresh_since
        return fresh and not holders.gone(row.holder, self._holder)

    def _holds(self, render_id: uuid.UUID) -> bool:
        with self._lock:
            return render_id in self._running

    def _fresh_since(self) -> datetime:
        return datetime.now(UTC) - timedelta(seconds=self._settings.editorial_proxy_stale_s)

    def _abandon(self, uow: UnitOfWork, row: ProxyRender, error: str = ABANDONED) -> None:
        """Fail a render whose server process stopped (its heartbeat went stale, or it is this process,
        shutting down); the caller commits."""
        row.status, row.error, row.finished_at = "failed", error, datetime.now(UTC)
        logger.warning(
            "proxy render left by a stopped server process: marked failed",
            extra={"render_id": str(row.id), "number": row.number, "heartbeat_at": str(row.heartbeat_at)},
        )
        out = ProxyRenderOut.of(row)
        uow.record(
            "proxy.failed", "proxy", row.id, project_id=row.project_id, data=out.model_dump(mode="json")
        )

    def _movie_exists(self, path: str) -> bool:
        try:
            return Path(resolve_inside(self._settings.resolved_storage_root, path)).is_file()
        except PathOutsideRootError:
            return False

    def _spec(self, project: Project, width: int, height: int) -> ProxySpec:
        settings = self._settings
        return ProxySpec(
            project.fps_num,
            project.fps_den,
            width,
            height,
            font=_font(settings.editorial_burnin_font),
            workers=settings.editorial_proxy_workers,
            timeout_s=settings.editorial_ffmpeg_timeout_s,
            nice=settings.background_nice,
        )

    def wait(self, render_id: uuid.UUID, timeout_s: float | None = None) -> None:
        """Block until the render has finished in this process (CLI and tests)."""
        with self._lock:
            future = self._running.get(render_id)
        if future is not None:
            future.result(timeout=timeout_s)

    # -- the heartbeat --------------------------------------------------------------------------------

    def _beat(self) -> None:
        """(The heartbeat thread.) Until `close`: mark this process's renders alive, fail abandoned ones."""
        while not self._stopping.wait(self._settings.editorial_proxy_heartbeat_s):
            try:
                self._keep_alive()
                self._fail_abandoned()
            except SQLAlchemyError:  # the database away or busy: the next beat tries again
                logger.warning("proxy heartbeat not written", exc_info=True)

    def _keep_alive(self) -> None:
        """One short UPDATE for every render this process holds: SQLite's write lock is held for no longer
        (the agents' heartbeats wait for it)."""
        with self._lock:
            held = list(self._running)
        if not held:
            return
        with self._db.write_sessions() as session:
            session.execute(
                update(ProxyRender)
                .where(ProxyRender.id.in_(held), ProxyRender.status.in_(ACTIVE))
                .values(heartbeat_at=datetime.now(UTC)),
                execution_options={"synchronize_session": False},
            )
            session.commit()

    def _fail_abandoned(self) -> None:
        """Mark failed the queued or running renders of other processes that are not alive (`_alive`: a
        stale heartbeat, or a process of this machine that is gone): looked for in a read session (the
        active renders are few), written only when there are some."""
        with self._db.read_sessions() as session:
            active = select(ProxyRender.id, ProxyRender.heartbeat_at, ProxyRender.holder)
            rows = session.execute(active.where(ProxyRender.status.in_(ACTIVE))).all()
        fresh_since = self._fresh_since()
        found = [row.id for row in rows if not self._holds(row.id) and not self._alive(row, fresh_since)]
        if found:
            self._fail(found, ABANDONED, unless_alive=True)

    def _fail(self, render_ids: list[uuid.UUID], error: str, *, unless_alive: bool = False) -> None:
        """Mark failed, with `error`, those of `render_ids` still queued or running (and, `unless_alive`,
        not alive by now: a heartbeat may have come since they were looked for)."""
        with self._db.write_sessions() as session:
            uow = UnitOfWork(session=session, hub=self._hub, actor=SYSTEM)
            rows = session.scalars(  # asked again, and locked
                select(ProxyRender)
                .where(ProxyRender.id.in_(render_ids), ProxyRender.status.in_(ACTIVE))
                .with_for_update()
            )
            fresh_since = self._fresh_since()
            for row in rows:
                if not (unless_alive and self._alive(row, fresh_since)):
                    self._abandon(uow, row, error)
            uow.commit()

    # -- the worker -----------------------------------------------------------------------------------

    def _run(self, render_id: uuid.UUID) -> None:
        try:
            self._render(render_id)
        except Exception as exc:
            logger.exception("proxy render failed", extra={"render_id": str(render_id)})
            self._finish(render_id, error=str(exc) or type(exc).__name__)
        finally:
            with self._lock:
                self._running.pop(render_id, None)

    def _render(self, render_id: uuid.UUID) -> None:
        settings = self._settings
        root = settings.resolved_storage_root
        # The edit (every shot and its media) is read in a read session: on SQLite a write session would
        # hold the one write lock for all of that reading, and every other writer (heartbeats) would wait.
        with self._db.read_sessions() as session:
            row = get_or_404(session, ProxyRender, render_id, "proxy")
            edit = load_edit(session, row.project_id, root)
            layout = ProjectLayout.of(edit.project, root)
            cache = layout.absolute(f"{layout.build('edit_proxy_dir')}/{SEGMENT_CACHE}")
            output = layout.absolute(row.path)
            spec = self._spec(edit.project, row.width, row.height)
        with self._db.write_sessions() as session:
            started = get_or_404(session, ProxyRender, render_id, "proxy")
            if started.status != "queued":  # failed as abandoned while it waited (this process was stalled)
                logger.warning(
                    "proxy render no longer queued: not started", extra={"render_id": str(render_id)}
                )
                return
            started.status, started.started_at = "running", datetime.now(UTC)
            started.frames, started.shots = edit.frames, len(edit.shots)
            session.commit()
        began = time.perf_counter()
        try:
            result, worker = self._process.run(
                render_in_child,
                settings.resolved_database_url,
                render_id,
                edit.shots,
                spec,
                cache,
                output,
                broken=lambda: Unprocessable(
                    "the proxy process ended before the render did (out of memory, or killed)", field="id"
                ),
            )
        except ProxyError as exc:
            self._finish(render_id, error=str(exc))
            return
        logger.info(
            "proxy rendered in a worker process",
            extra={
                "render_id": str(render_id),
                "worker_pid": worker,
                "server_pid": os.getpid(),
                "encoded": result.encoded,
                "seconds": round(time.perf_counter() - began, 3),
            },
        )
        self._finish(
            render_id,
            segments=[s.as_dict() for s in result.segments],
            encoded=result.encoded,
            reused=result.reused,
            frames=result.frames,
            edit_key=edit_key(edit.shots, spec),  # the edit rendered (it may have changed since the request)
        )

    def _finish(self, render_id: uuid.UUID, *, error: str | None = None, **values: object) -> None:
        with self._db.write_sessions() as session:
            row = session.get(ProxyRender, render_id)
            if row is None:  # the project was deleted meanwhile
                return
            if error and row.status not in ACTIVE:  # already failed, saying why (the server stopping)
                return
            row.status = "failed" if error else "succeeded"
            row.error = error or ""
            row.progress = row.progress if error else 1.0
            row.finished_at = datetime.now(UTC)
            for name, value in values.items():
                setattr(row, name, value)
            uow = UnitOfWork(session=session, hub=self._hub, actor=SYSTEM)
            out = ProxyRenderOut.of(row)
            uow.record(
                f"proxy.{row.status}",
                "proxy",
                row.id,
                project_id=row.project_id,
                data=out.model_dump(mode="json"),
            )
            uow.commit()


def _font(path: Path | None) -> str | None:
    if path is None:
        return None
    if not path.is_file():
        logger.warning("burn-in font not found; using the default sans", extra={"path": str(path)})
        return None
    return str(path)
