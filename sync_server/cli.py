"""The `aipipe` command: server, database, admin and demo."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer
import uvicorn
from rich.console import Console
from rich.table import Table

from .context import SYSTEM, UnitOfWork
from .db.engine import make_database
from .settings import Settings

if TYPE_CHECKING:
    from .farm.dispatch import ClaimDispatcher

app = typer.Typer(help="AIPipeline: sync server, render farm and tools.", no_args_is_help=True)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
admin_app = typer.Typer(help="Users and API keys.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(admin_app, name="admin")
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Data folder (env AIPIPE_DATA_DIR).")]
DbUrl = Annotated[
    str | None, typer.Option("--database-url", help="SQLAlchemy URL (env AIPIPE_DATABASE_URL).")
]
ROLES_HELP = "admin, director, editor, artist, wrangler or agent"


def load_settings(
    data_dir: Path | None = None, database_url: str | None = None, **overrides: object
) -> Settings:
    values = {
        k: v
        for k, v in {"data_dir": data_dir, "database_url": database_url, **overrides}.items()
        if v is not None
    }
    try:
        return Settings(**values)
    except ValueError as exc:
        err.print(f"[red]Configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc


@contextmanager
def system_uow(settings: Settings) -> Iterator[UnitOfWork]:
    """A unit of work acting as the system (CLI commands run on the server machine)."""
    db = make_database(settings.resolved_database_url)
    try:
        with db.write_sessions() as session:
            yield UnitOfWork(session=session, hub=None, actor=SYSTEM)
    finally:
        db.dispose()


def _fail(exc: Exception) -> typer.Exit:
    from .errors import ApiError

    if isinstance(exc, ApiError):
        field = f" ({exc.errors[0]['field']})" if exc.errors else ""
        err.print(f"[red]Refused{field}:[/red] {exc.detail}")
    else:
        err.print(f"[red]Error:[/red] {exc}")
    return typer.Exit(1)


@db_app.command("upgrade")
def db_upgrade(data_dir: DataDir = None, database_url: DbUrl = None) -> None:
    """Apply all database migrations."""
    from .db.migrate import head_revision, upgrade

    settings = load_settings(data_dir, database_url)
    settings.ensure_dirs()
    upgrade(settings.resolved_database_url)
    console.print(f"Database at revision {head_revision(settings.resolved_database_url)}.")


@admin_app.command("create-user")
def create_user(
    name: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[str, typer.Option("--role", help=ROLES_HELP)],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
    display_name: Annotated[str, typer.Option("--display-name")] = "",
    data_dir: DataDir = None,
    database_url: DbUrl = None,
) -> None:
    """Create a user. Without --password-stdin a random password is generated and shown once."""
    import secrets

    from pydantic import ValidationError

    from .auth.passwords import Passwords
    from .db.migrate import upgrade
    from .errors import ApiError
    from .users.schemas import UserCreate
    from .users.service import create_user as create

    settings = load_settings(data_dir, database_url)
    settings.ensure_dirs()
    generated = not password_stdin
    password = secrets.token_urlsafe(12) if generated else sys.stdin.readline().rstrip("\r\n")
    try:
        body = UserCreate(username=name, password=password, role=role, display_name=display_name)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        err.print(f"[red]Invalid user:[/red] {problems}")
        raise typer.Exit(2) from exc
    upgrade(settings.resolved_database_url)
    try:
        with system_uow(settings) as uow:
            user = create(uow, Passwords(), body)
    except ApiError as exc:
        raise _fail(exc) from exc
    console.print(f"Created user [bold]{user.username}[/bold] ({user.role}).")
    if generated:
        console.print(f"Password (shown once): [bold]{password}[/bold]")


@admin_app.command("create-api-key")
def create_api_key(
    name: Annotated[str, typer.Argument(help="What the key is for, e.g. 'render-gpu-01'.")],
    role: Annotated[str, typer.Option("--role", help=ROLES_HELP)],
    data_dir: DataDir = None,
    database_url: DbUrl = None,
) -> None:
    """Create an API key; it is printed once and only its hash is kept."""
    from pydantic import ValidationError

    from .db.migrate import upgrade
    from .users.schemas import ApiKeyCreate
    from .users.service import create_api_key as create

    settings = load_settings(data_dir, database_url)
    settings.ensure_dirs()
    try:
        body = ApiKeyCreate(name=name, role=role)
    except ValidationError as exc:
        err.print(
            f"[red]Invalid API key request:[/red] {exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}"
        )
        raise typer.Exit(2) from exc
    upgrade(settings.resolved_database_url)
    with system_uow(settings) as uow:
        created = create(uow, body)
    console.print(f"API key [bold]{created.name}[/bold] ({created.role}), shown once:")
    typer.echo(created.key)


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def first_admin_password(settings: Settings) -> str | None:
    from .auth.passwords import Passwords
    from .users.service import ensure_first_admin

    with system_uow(settings) as uow:
        return ensure_first_admin(uow, Passwords())


def serve(
    settings: Settings, banner: list[str] | None = None, on_listening: Callable[[str], None] | None = None
) -> None:
    """Migrate, make the first admin if needed, bind, print where to go, and serve until stopped."""
    from .app import create_app
    from .logging_setup import configure_logging

    configure_logging(settings)
    settings.ensure_dirs()
    application = create_app(settings)
    password = first_admin_password(settings)
    sock = bind_socket(settings.host, settings.port)
    host, port = sock.getsockname()[:2]
    url = settings.public_url or f"http://{host if ':' not in host else f'[{host}]'}:{port}"
    console.print(
        f"AIPipeline server {url}  (API docs: {url}/docs, database: {application.state.services.db.dialect})"
    )
    if password:
        console.print(
            f"First start: created user [bold]admin[/bold] with one-time password [bold]{password}[/bold]"
            " — change it after logging in."
        )
    for line in banner or []:
        console.print(line)
    if on_listening is not None:
        on_listening(url)
    config = uvicorn.Config(
        application,
        log_config=None,
        ws_ping_interval=settings.ws_ping_interval_s,
        proxy_headers=False,
        timeout_graceful_shutdown=5,
    )
    _Server(config, application.state.services.claims).run(sockets=[sock])


class _Server(uvicorn.Server):
    """uvicorn waits for open requests before shutting down: claim long-polls (up to 30 s) are answered
    at once when the stop signal comes, so the shutdown is graceful and quick."""

    def __init__(self, config: uvicorn.Config, claims: ClaimDispatcher) -> None:
        super().__init__(config)
        self._claims = claims

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        with contextlib.suppress(RuntimeError):  # no loop yet or any more: nothing is waiting
            asyncio.get_running_loop().call_soon_threadsafe(self._claims.close_waiting)


@app.command()
def server(
    host: Annotated[str | None, typer.Option("--host", help="Interface (env AIPIPE_HOST).")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port, 0 = any free (env AIPIPE_PORT).")] = None,
    data_dir: DataDir = None,
    database_url: DbUrl = None,
) -> None:
    """Run the sync server."""
    serve(load_settings(data_dir, database_url, host=host, port=port))


@app.command()
def demo(
    host: Annotated[str | None, typer.Option("--host")] = None,
    port: Annotated[int | None, typer.Option("--port")] = None,
    data_dir: Annotated[Path, typer.Option("--data-dir")] = Path("data/demo"),
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Prepare the demo data and exit.")] = False,
    blender: Annotated[
        str | None,
        typer.Option(
            "--blender", help="A Python with bpy (or Blender): farm playblasts and the demo layout scene."
        ),
    ] = None,
    layout: Annotated[
        bool, typer.Option("--layout/--no-layout", help="With --blender: make the first shot's layout.")
    ] = True,
) -> None:
    """Set up the sample project (idempotent) and run the server with a demo login."""
    from .demo import demo_edit, prepare_demo
    from .demo_run import DemoProcesses
    from .logging_setup import configure_logging

    settings = load_settings(data_dir, None, host=host, port=port)
    settings.ensure_dirs()
    configure_logging(settings)
    result = prepare_demo(settings)
    table = Table(title="AIPipeline demo", show_header=False)
    table.add_row("project", f"{result.project_code} — {result.project_name} ({result.shots} shots)")
    table.add_row("login", f"{result.username} / {result.password}")
    if result.admin_password:
        table.add_row("admin", f"admin / {result.admin_password} (one-time; first start)")
    table.add_row("data", str(settings.data_dir.resolve()))
    table.add_row("tree", result.tree)
    table.add_row("shot list", str(_demo_workbook(settings, result.project_code)))
    edit = demo_edit(settings, result.project_code)
    table.add_row("edit", f"{edit.edl}")
    table.add_row("proxy movie", f"{edit.proxy} ({edit.note})" if edit.proxy else edit.note)
    console.print(table)
    if no_serve:
        return
    processes = DemoProcesses(settings, result.agent_key, console.print, blender, layout)
    # uvicorn re-raises SIGTERM after its graceful shutdown; as an exception it lets the agent be stopped.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        serve(settings, on_listening=processes.start)
    finally:
        processes.stop()


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _demo_workbook(settings: Settings, project_code: str) -> Path:
    from .shotlist.demo import write_demo_workbook

    return write_demo_workbook(settings, project_code)


def main() -> None:
    app()


# -- backups and archives ----------------------------------------------------------------------------------

backup_app = typer.Typer(help="Backups of the database and the production metadata.", no_args_is_help=True)
project_app = typer.Typer(help="Project tools.", no_args_is_help=True)
app.add_typer(backup_app, name="backup")
app.add_typer(project_app, name="project")


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


@backup_app.command("create")
def backup_create(
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Backup file or folder. Default: <data dir>/backups/aipipe-backup-<UTC>.zip"
        ),
    ] = None,
    data_dir: DataDir = None,
    database_url: DbUrl = None,
) -> None:
    """Snapshot the database and the metadata files while the server keeps running."""
    from .backups import BackupError, create_backup

    settings = load_settings(data_dir, database_url)
    try:
        result = create_backup(settings, out)
    except BackupError as exc:
        raise _fail(exc) from exc
    manifest = result.manifest
    rows = sum(manifest.row_counts.values())
    console.print(f"Backup written to [bold]{result.path}[/bold] ({_size(result.size)}).")
    console.print(
        f"{manifest.dialect} database at revision {manifest.alembic_revision}: {rows} rows in "
        f"{len(manifest.row_counts)} tables; {result.metadata_files} metadata files."
    )
    table = Table(show_header=True, header_style="bold")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, count in manifest.row_counts.items():
        table.add_row(name, str(count))
    console.print(table)
    for path in result.vanished:
        console.print(f"[yellow]Deleted while the backup ran, not included:[/yellow] {path}")


@backup_app.command("restore")
def backup_restore(
    file: Annotated[Path, typer.Argument(help="A backup made by `aipipe backup create`.")],
    force: Annotated[
        bool, typer.Option("--force", help="Replace a database that holds data (it is kept aside).")
    ] = False,
    data_dir: DataDir = None,
    database_url: DbUrl = None,
) -> None:
    """Restore a backup into a stopped server's database, migrate it, put back missing metadata files."""
    from .backups import BackupError, restore_backup

    settings = load_settings(data_dir, database_url)
    settings.ensure_dirs()
    try:
        result = restore_backup(settings, file, force=force)
    except BackupError as exc:
        raise _fail(exc) from exc
    manifest = result.manifest
    console.print(
        f"Restored the backup of {manifest.created_at} (aipipe {manifest.server_version}, revision "
        f"{manifest.alembic_revision}) into {result.target}; now at revision {result.revision}."
    )
    if result.kept_aside is not None:
        console.print(f"The previous database is kept at [bold]{result.kept_aside}[/bold].")
    metadata = result.metadata
    console.print(
        f"Metadata files: {len(metadata.restored)} restored, {len(metadata.skipped)} already present (kept)."
    )
    for path in metadata.skipped:
        console.print(f"  kept the existing {path}")


@project_app.command("archive")
def project_archive(
    code: Annotated[str, typer.Argument(help="Project code, e.g. NIGHT_ALLEY.")],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Zip file or folder. Default: <data dir>/archives/<project>-<UTC>.zip"),
    ] = None,
    data_dir: DataDir = None,
    database_url: DbUrl = None,
) -> None:
    """Zip a project's folder (config, assets, versions, edit) with a JSON export of its records."""
    from .archive import ArchiveError, archive_project

    settings = load_settings(data_dir, database_url)
    try:
        result = archive_project(settings, code, out)
    except ArchiveError as exc:
        raise _fail(exc) from exc
    console.print(
        f"Archived project [bold]{result.project_code}[/bold] to [bold]{result.path}[/bold] "
        f"({result.files} files, {_size(result.bytes_in)} in, {_size(result.size)} zip)."
    )
    for path in result.missing:
        console.print(f"[yellow]Listed in the database but not on disk:[/yellow] {path}")
    for path in result.skipped:
        console.print(f"[yellow]Skipped (symlink or deleted meanwhile):[/yellow] {path}")


# -- render agent ------------------------------------------------------------------------------------------


@app.command("agent")
def agent(
    server: Annotated[
        str | None, typer.Option("--server", help="Sync server URL (env AIPIPE_AGENT_SERVER_URL).")
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key", help="API key of role agent; better env AIPIPE_AGENT_API_KEY (flags show in ps)."
        ),
    ] = None,
    comfyui: Annotated[
        str | None,
        typer.Option(
            "--comfyui", help="Local ComfyUI URL (env AIPIPE_AGENT_COMFYUI_URL); unset: CPU jobs only."
        ),
    ] = None,
    blender: Annotated[
        str | None,
        typer.Option(
            "--blender",
            help="Blender (or a Python with bpy) for playblast jobs (env AIPIPE_AGENT_BLENDER); unset: none.",
        ),
    ] = None,
    tags: Annotated[
        list[str] | None,
        typer.Option("--tags", help="Tags, repeated or comma-separated (env AIPIPE_AGENT_TAGS)."),
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Agent name; default the host name.")] = None,
    job_types: Annotated[
        list[str] | None,
        typer.Option(
            "--job-types", help="Job types to run, repeated or comma-separated; default all it can."
        ),
    ] = None,
    work_dir: Annotated[
        Path | None,
        typer.Option("--work-dir", help="Inputs, outputs and the outbox (env AIPIPE_AGENT_WORK_DIR)."),
    ] = None,
    on_sigterm: Annotated[
        str | None,
        typer.Option(
            "--on-sigterm", help="finish: finish the current job then exit; release: give it back now."
        ),
    ] = None,
) -> None:
    """Run a render agent: register, claim jobs, run them through ComfyUI (or ffmpeg), report them."""
    import asyncio
    import logging

    from pydantic import ValidationError

    from render_agent.agent import run_agent
    from render_agent.settings import AgentSettings

    def joined(values: list[str] | None) -> str | None:
        return None if values is None else ",".join(values)

    overrides = {
        "server_url": server,
        "api_key": api_key,
        "comfyui_url": comfyui,
        "blender": blender,
        "tags": joined(tags),
        "name": name,
        "job_types": joined(job_types),
        "work_dir": work_dir,
        "on_sigterm": on_sigterm,
    }
    try:
        settings = AgentSettings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        err.print(f"[red]Configuration error:[/red] {problems}")
        raise typer.Exit(2) from exc
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # One line per HTTP request (heartbeats every few seconds) says nothing the agent's own lines do not.
    logging.getLogger("httpx").setLevel(max(logging.getLogger().level, logging.WARNING))
    raise typer.Exit(asyncio.run(run_agent(settings)))


# -- render farm: the wrangler's commands (over HTTP) ------------------------------------------------------

from .farm_cli import farm_app  # noqa: E402  (its own module; registered here so `aipipe farm` exists)

app.add_typer(farm_app, name="farm")

from .editorial_cli import editorial_app  # noqa: E402

app.add_typer(editorial_app, name="editorial")

from .breakdown_cli import breakdown as breakdown_command  # noqa: E402

app.command("breakdown")(breakdown_command)

from .addon_cli import addon_app  # noqa: E402

app.add_typer(addon_app, name="addon")

from .shotlist_cli import ingest_command, shots_app  # noqa: E402

app.add_typer(shots_app, name="shots")
app.command("ingest")(ingest_command)
