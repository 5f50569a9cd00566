"""`aipipe backup create|restore`: on the server machine, against its database and metadata files."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import typer

from .common import AsJson, DataDir, DbUrl, fail, load_settings, out, print_json, size_text, table
from .database import require_database

backup_app = typer.Typer(help="Backups of the database and the production metadata.", no_args_is_help=True)


@backup_app.command("create")
def backup_create(
    dest: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Backup file or folder. Default: <data dir>/backups/aipipe-backup-<UTC>.zip"
        ),
    ] = None,
    as_json: AsJson = False,
    data_dir: DataDir = None,
    database_url: DbUrl = None,
) -> None:
    """Snapshot the database and the metadata files while the server keeps running."""
    from ..backups import BackupError, create_backup

    settings = load_settings(data_dir, database_url)
    require_database(settings, init=False)
    try:
        result = create_backup(settings, dest)
    except BackupError as exc:
        raise fail(exc) from exc
    manifest = result.manifest
    if as_json:
        print_json(dataclasses.asdict(result))
        return
    rows = sum(manifest.row_counts.values())
    console = out()
    console.print(f"Backup written to [bold]{result.path}[/bold] ({size_text(result.size)}).")
    console.print(
        f"{manifest.dialect} database at revision {manifest.alembic_revision}: {rows} rows in "
        f"{len(manifest.row_counts)} tables; {result.metadata_files} metadata files."
    )
    counts = table("table", "rows")
    for name, count in manifest.row_counts.items():
        counts.add_row(name, str(count))
    console.print(counts)
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
    from ..backups import BackupError, restore_backup

    settings = load_settings(data_dir, database_url)
    settings.ensure_dirs()
    try:
        result = restore_backup(settings, file, force=force)
    except BackupError as exc:
        raise fail(exc) from exc
    manifest = result.manifest
    console = out()
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
