"""`aipipe demo`: the sample project, a demo login, and the server with a local render agent."""

from __future__ import annotations

import shutil
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .common import load_settings, out

if TYPE_CHECKING:
    from ..settings import Settings


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
    from rich.table import Table

    from ..logging_setup import configure_logging
    from .demo_data import demo_edit, prepare_demo
    from .demo_processes import DemoProcesses
    from .server import serve

    settings = load_settings(data_dir, None, host=host, port=port)
    settings.ensure_dirs()
    configure_logging(settings)
    result = prepare_demo(settings, agent=not no_serve)
    table = Table(title="AIPipeline demo", show_header=False)
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")
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
    console = out()
    console.print(table)
    if no_serve or result.agent_key is None:
        return
    processes = DemoProcesses(settings, result.agent_key, console.print, blender, layout)
    # uvicorn re-raises SIGTERM after its graceful shutdown; as an exception it lets the agent be stopped.
    signal.signal(signal.SIGTERM, _exit_on_signal)

    def listening(url: str) -> None:
        cli = _aipipe_command()
        console.print(
            f"Command line: [bold]{cli} login {url}[/bold] (as {result.username} / {result.password}), "
            f"then e.g. {cli} whoami, {cli} editorial export {result.project_code} --out cut.edl",
            markup=True,
            highlight=False,
        )
        processes.start(url)

    try:
        serve(settings, on_listening=listening)
    finally:
        processes.stop()


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _demo_workbook(settings: Settings, project_code: str) -> Path:
    from ..shotlist.demo import write_demo_workbook

    return write_demo_workbook(settings, project_code)


def _aipipe_command() -> str:
    """The `aipipe` a newcomer can type here: `.venv/bin/aipipe` from a checkout, plain `aipipe` on PATH."""
    script = Path(sys.executable).parent / "aipipe"  # the environment this demo runs in
    if not script.is_file():
        return "aipipe"
    on_path = shutil.which("aipipe")
    if on_path and Path(on_path).resolve() == script.resolve():
        return "aipipe"
    try:
        return str(script.absolute().relative_to(Path.cwd()))
    except ValueError:
        return str(script.absolute())
