"""`aipipe backup create|prune|restore`: on the server machine, against its database and metadata files."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .common import AsJson, DataDir, DbUrl, err, fail, load_settings, out, print_json, size_text, table
from .database import require_database

if TYPE_CHECKING:
    from ..backups.retention import PruneResult

backup_app = typer.Typer(help="Backups of the database and the production metadata.", no_args_is_help=True)
KeepDaily = Annotated[
    int,
    typer.Option(
        "--keep-daily", min=0, help="Keep the newest backup of each of the last N days that have one."
    ),
]
KeepWeekly = Annotated[
    int,
    typer.Option(
        "--keep-weekly", min=0, help="Keep the newest backup of each of the last M ISO weeks that have one."
    ),
]


def _print_prune(result: PruneResult) -> None:
    console = out()
    verb = "Would delete" if result.dry_run else "Deleted"
    for path in result.deleted:
        console.print(f"{verb} {path}", markup=False, highlight=False)
    for path in result.ignored:
        err().print(f"Named like a backup but not one (left alone): {path}", style="yellow", markup=False)
    console.print(
        f"Retention in {result.folder}: {len(result.kept)} kept, {len(result.deleted)} "
        f"{'to delete' if result.dry_run else 'deleted'}.",
        markup=False,
        highlight=False,
    )


@backup_app.command("create")
def backup_create(
    dest: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Backup file or folder. Default: <data dir>/backups/aipipe-backup-<UTC>.zip"
        ),
    ] = None,
    keep_daily: KeepDaily = 0,
    keep_weekly: KeepWeekly = 0,
    as_json: AsJson = False,
    data_dir: DataDir = None,
    database_url: DbUrl = None,
) -> None:
    """Snapshot the database and the metadata files while the server keeps running; with --keep-daily /
    --keep-weekly, then delete the older backups in the same folder that the retention does not keep."""
    from ..backups import BackupError, create_backup, prune

    settings = load_settings(data_dir, database_url)
    require_database(settings, init=False)
    try:
        result = create_backup(settings, dest)
        pruned = (
            prune(result.path.parent, keep_daily, keep_weekly, protect=[result.path])
            if keep_daily or keep_weekly
            else None
        )
    except BackupError as exc:
        raise fail(exc) from exc
    manifest = result.manifest
    if as_json:
        print_json(dataclasses.asdict(result) | ({"pruned": dataclasses.asdict(pruned)} if pruned else {}))
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
    if pruned is not None:
        _print_prune(pruned)


@backup_app.command("prune")
def backup_prune(
    keep_daily: KeepDaily = 0,
    keep_weekly: KeepWeekly = 0,
    folder: Annotated[
        Path | None, typer.Option("--folder", help="Folder of backups. Default: <data dir>/backups")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only list what would be deleted.")] = False,
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    """Delete the backups that the retention does not keep. Only files named aipipe-backup-<UTC>.zip that
    hold a backup manifest are ever deleted; anything else in the folder is left alone."""
    from ..backups import BackupError, prune
    from ..backups.service import BACKUPS_DIR

    settings = load_settings(data_dir, None)
    try:
        result = prune(folder or settings.data_dir / BACKUPS_DIR, keep_daily, keep_weekly, dry_run=dry_run)
    except BackupError as exc:
        raise fail(exc) from exc
    if as_json:
        print_json(dataclasses.asdict(result))
        return
    _print_prune(result)


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
