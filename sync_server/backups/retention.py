"""Which backups to keep: the newest of each of the last N days and of the last M ISO weeks.

`keep` is pure (names and times in, names out) so the rule can be tested without files. `prune` applies it
to a folder and touches only files that are backups made by `aipipe backup create`: the name must match
`aipipe-backup-<UTC stamp>[-<n>].zip` and the zip must hold an AIPipeline backup manifest.
"""

from __future__ import annotations

import json
import re
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from .bundle import FORMAT, MANIFEST, BackupError

NAME = re.compile(r"^aipipe-backup-(?P<stamp>\d{8}T\d{6}Z)(?:-(?P<n>\d+))?\.zip$")


@dataclass(frozen=True, order=True)
class BackupStamp:
    """One backup's time (from its name) and its counter for several backups within one second."""

    at: datetime
    counter: int
    name: str


def parse_name(name: str) -> BackupStamp | None:
    """The time a backup's file name carries, or None for a name `aipipe backup create` does not make."""
    match = NAME.match(name)
    if match is None:
        return None
    try:
        at = datetime.strptime(match["stamp"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None
    return BackupStamp(at, int(match["n"] or 1), name)


def keep(stamps: Iterable[BackupStamp], keep_daily: int, keep_weekly: int) -> set[str]:
    """Names to keep: the newest backup of each of the `keep_daily` most recent days that have a backup,
    and the newest of each of the `keep_weekly` most recent ISO weeks that have one (UTC).

    Days and weeks without a backup do not count, so a server that was off for a while keeps its last
    backups rather than losing them all (the rule borg and restic use).
    """
    if keep_daily < 0 or keep_weekly < 0:
        raise ValueError("--keep-daily and --keep-weekly cannot be negative")
    kept: set[str] = set()
    days: set[object] = set()
    weeks: set[object] = set()
    for stamp in sorted(stamps, reverse=True):  # newest first
        day = stamp.at.date()
        week = stamp.at.isocalendar()[:2]
        if day not in days and len(days) < keep_daily:
            days.add(day)
            kept.add(stamp.name)
        if week not in weeks and len(weeks) < keep_weekly:
            weeks.add(week)
            kept.add(stamp.name)
    return kept


@dataclass
class PruneResult:
    folder: Path
    kept: list[Path] = field(default_factory=list)
    deleted: list[Path] = field(default_factory=list)  # with dry_run: would be deleted
    ignored: list[Path] = field(default_factory=list)  # named like a backup but not one: left alone
    dry_run: bool = False


def is_backup(path: Path) -> bool:
    """Whether `path` is a zip holding an AIPipeline backup manifest (read only the manifest)."""
    try:
        with zipfile.ZipFile(path) as bundle:
            data = json.loads(bundle.read(MANIFEST).decode("utf-8"))
    except (KeyError, zipfile.BadZipFile, zlib.error, EOFError, OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(data, dict) and data.get("format") == FORMAT


def prune(
    folder: Path,
    keep_daily: int,
    keep_weekly: int,
    protect: Iterable[Path] = (),
    dry_run: bool = False,
) -> PruneResult:
    """Delete the backups in `folder` that `keep` does not keep; never one in `protect` (just made)."""
    if keep_daily <= 0 and keep_weekly <= 0:
        raise BackupError(
            "give --keep-daily or --keep-weekly (at least 1): pruning would delete every backup"
        )
    result = PruneResult(folder.absolute(), dry_run=dry_run)
    if not folder.is_dir():
        raise BackupError(f"{folder} is not a folder of backups")
    protected = {p.absolute() for p in protect}
    found: dict[str, Path] = {}
    stamps: list[BackupStamp] = []
    for path in sorted(folder.iterdir()):
        stamp = parse_name(path.name)
        if stamp is None or path.is_symlink() or not path.is_file():
            continue  # not ours: other files in the folder are never looked at
        if not is_backup(path):
            result.ignored.append(path.absolute())
            continue
        found[path.name] = path.absolute()
        stamps.append(stamp)
    kept = keep(stamps, keep_daily, keep_weekly)
    for name, path in sorted(found.items()):
        if name in kept or path in protected:
            result.kept.append(path)
            continue
        if not dry_run:
            path.unlink(missing_ok=True)
        result.deleted.append(path)
    return result
