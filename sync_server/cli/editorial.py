"""`aipipe editorial`: export the edit and make the proxy movie on the server machine (local database)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import or_, select

from .common import err, out

editorial_app = typer.Typer(
    help="Edit exchange (EDL / FCP XML / OTIO) and proxy movies.", no_args_is_help=True
)

ProjectArg = Annotated[str, typer.Argument(help="Project code or id.")]
DataDirOpt = Annotated[Path | None, typer.Option("--data-dir", help="Data folder (env AIPIPE_DATA_DIR).")]
DbUrlOpt = Annotated[str | None, typer.Option("--database-url", help="SQLAlchemy URL.")]


def _project_id(session: object, code_or_id: str) -> uuid.UUID:
    from ..db.models import Project

    try:
        as_id: uuid.UUID | None = uuid.UUID(code_or_id)
    except ValueError:
        as_id = None
    clause = (
        Project.code == code_or_id if as_id is None else or_(Project.id == as_id, Project.code == code_or_id)
    )
    project_id = session.scalar(select(Project.id).where(clause))  # type: ignore[attr-defined]
    if project_id is None:
        err().print(f"[red]No project[/red] with code or id '{code_or_id}'.")
        raise typer.Exit(1)
    return project_id


@editorial_app.command("export")
def export(
    project: ProjectArg,
    out: Annotated[Path, typer.Option("--out", help="File to write (atomically).")],
    fmt: Annotated[str, typer.Option("--format", help="otio, cmx_3600 (EDL) or fcp_xml.")] = "cmx_3600",
    record_start: Annotated[
        str | None, typer.Option("--record-start", help="Default: AIPIPE_EDITORIAL_RECORD_START.")
    ] = None,
    data_dir: DataDirOpt = None,
    database_url: DbUrlOpt = None,
) -> None:
    """Write the project's edit (shots in order) as an EDL, an FCP 7 XML or an OTIO file."""
    from ..db.engine import make_database
    from ..editorial.exchange import FORMATS
    from ..editorial.service import export_edit
    from ..errors import ApiError
    from ..storage.atomic import atomic_write_bytes
    from .common import fail as _fail
    from .common import load_settings

    if fmt not in FORMATS:
        err().print(f"[red]--format[/red] must be one of {', '.join(FORMATS)}, not '{fmt}'.")
        raise typer.Exit(2)
    settings = load_settings(data_dir, database_url)
    db = make_database(settings.resolved_database_url)
    try:
        with db.read_sessions() as session:
            project_id = _project_id(session, project)
            written, _ = export_edit(
                session,
                project_id,
                settings.resolved_storage_root,
                fmt,
                record_start or settings.editorial_record_start,
            )
    except ApiError as exc:
        raise _fail(exc) from exc
    finally:
        db.dispose()
    atomic_write_bytes(out, written.text.encode("utf-8"))
    out().print(f"Wrote [bold]{out}[/bold] ({fmt}).")


@editorial_app.command("proxy")
def proxy(project: ProjectArg, data_dir: DataDirOpt = None, database_url: DbUrlOpt = None) -> None:
    """Render the proxy movie into edit/proxy/vNNN/ and wait for it (only changed shots are encoded)."""
    from ..context import SYSTEM
    from ..db.engine import make_database
    from ..db.models_editorial import ProxyRender
    from ..editorial.jobs import ProxyJobs
    from ..errors import ApiError
    from .common import fail as _fail
    from .common import load_settings

    settings = load_settings(data_dir, database_url)
    db = make_database(settings.resolved_database_url)
    jobs = ProxyJobs(db, None, settings)
    try:
        with db.read_sessions() as session:
            project_id = _project_id(session, project)
        queued = jobs.submit(project_id, SYSTEM)
        jobs.wait(queued.id)
        with db.read_sessions() as session:
            row = session.get(ProxyRender, queued.id)
            assert row is not None
            status, error, path = row.status, row.error, row.path
            encoded, reused, frames = row.encoded, row.reused, row.frames
    except ApiError as exc:
        raise _fail(exc) from exc
    finally:
        jobs.close()
        db.dispose()
    if status != "succeeded":
        err().print(f"[red]Proxy v{queued.number:03d} failed:[/red] {error}")
        raise typer.Exit(1)
    out().print(
        f"Proxy [bold]{settings.resolved_storage_root / path}[/bold]: {frames} frames; "
        f"{encoded} shots encoded, {reused} joined from the cache."
    )
