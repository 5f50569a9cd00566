"""Backups: a consistent snapshot of the database and the production metadata, taken while the server runs.

`service` holds create / restore; `retention` which backups to keep; `bundle` the file format;
`sqlite` and `postgres` the per-database work.
See docs/backups.md.
"""

from .bundle import BackupError, Manifest, verify
from .retention import PruneResult, keep, prune
from .service import BackupResult, RestoreResult, create_backup, restore_backup

__all__ = [
    "BackupError",
    "BackupResult",
    "Manifest",
    "PruneResult",
    "RestoreResult",
    "create_backup",
    "keep",
    "prune",
    "restore_backup",
    "verify",
]
