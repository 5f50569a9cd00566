"""Proxy movies as server-side background jobs: a row to poll, a worker thread that runs each render.

One `ProxyJobs` per app, built when the app starts (see `routes.proxy_jobs_lifespan`) and reached through
the `ProxyJobsDep` dependency; never a module global. Each render is a `proxy_renders` row whose status
and progress the API serves; the movie lands in `edit/proxy/vNNN/`. The worker thread reads the edit and
records the start and the end; the render itself (driving ffmpeg, checking each segment, the join, the
progress writes) runs in a spawned child process at `AIPIPE_BACKGROUND_NICE`, so none of it holds the
server process's GIL.

A request for the proxy of an unchanged edit (same `edit_key`: cuts, media files, rate, size, burn-ins, the
proxy code's version) is answered with the render already made, or on its way in this process, and runs
nothing; requests are taken one at a time per process, so two at once for the same edit make one render.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

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
from .edit import load_edit
from .proxy import ProxyError, ProxyResult, ProxySpec, edit_key, render_proxy
from .schemas import ProxyRenderOut
from .timeline import EditShot

logger = logging.getLogger(__name__)
SEGMENT_CACHE = ".segments"
PROGRESS_STEP = 0.05  # write progress to the database at most every 5 %


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
    """Queues proxy renders and runs them one at a time on a worker thread."""

    def __init__(self, db: Database, hub: EventHub | None, settings: Settings) -> None:
        self._db = db
        self._hub = hub
        self._settings = settings
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="aipipe-proxy")
        self._process = SpawnedPool(1, settings.background_nice)  # started on the first render
        self._lock = threading.Lock()
        self._submitting = threading.Lock()  # one request at a time: the same edit twice at once, one render
        self._running: dict[uuid.UUID, Future[None]] = {}

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._process.close()

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
            made = self._made(session, project.id, key)
            if made is not None:
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
            uow.commit()
        with self._lock:
            self._running[out.id] = self._pool.submit(self._run, out.id)
        return out

    def _made(self, session: Session, project_id: uuid.UUID, key: str | None) -> ProxyRender | None:
        """The newest render of the edit of `key` that succeeded and whose movie is still there, or that this
        process is still running (a render left `running` by a stopped process is never the answer)."""
        if key is None:
            return None
        rows = session.scalars(
            select(ProxyRender)
            .where(ProxyRender.project_id == project_id, ProxyRender.edit_key == key)
            .order_by(ProxyRender.number.desc())
        )
        for row in rows:
            if row.status == "succeeded" and self._movie_exists(row.path):
                return row
            if row.status in ("queued", "running"):
                with self._lock:
                    if row.id in self._running:
                        return row
        return None

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
