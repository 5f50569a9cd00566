"""`aipipe project archive`: a project's folder and records in one zip."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import DataDir, DbUrl, fail, load_settings, out, size_text

project_app = typer.Typer(help="Project tools.", no_args_is_help=True)


@project_app.command("archive")
def project_archive(
    code: Annotated[str, typer.Argument(help="Project code, e.g. NIGHT_ALLEY.")],
    dest: Annotated[
        Path | None,
        typer.Option("--out", help="Zip file or folder. Default: <data dir>/archives/<project>-<UTC>.zip"),
    ] = None,
    data_dir: DataDir = None,
    database_url: DbUrl = None,
) -> None:
    """Zip a project's folder (config, assets, versions, edit) with a JSON export of its records."""
    from ..projects.archive import ArchiveError, archive_project

    settings = load_settings(data_dir, database_url)
    try:
        result = archive_project(settings, code, dest)
    except ArchiveError as exc:
        raise fail(exc) from exc
    console = out()
    console.print(
        f"Archived project [bold]{result.project_code}[/bold] to [bold]{result.path}[/bold] "
        f"({result.files} files, {size_text(result.bytes_in)} in, {size_text(result.size)} zip)."
    )
    for path in result.missing:
        console.print(f"[yellow]Listed in the database but not on disk:[/yellow] {path}")
    for path in result.skipped:
        console.print(f"[yellow]Skipped (symlink or deleted meanwhile):[/yellow] {path}")
