"""The hidden staging area where uploads are received, and how a staged upload becomes `vNNN/`.

    <storage root>/.aipipe-staging/<owner>.lock        held (flock) by one live server process
    <storage root>/.aipipe-staging/<owner>/<upload>/   files being received
    <storage root>/.aipipe-staging/<owner>/<upload>.json   journal: where the upload is being placed

An upload is received into its own folder on the same filesystem as the production tree. Inside the
numbering transaction the server writes the journal, puts a pending marker in the folder and renames the
folder to `vNNN` (one atomic rename), then inserts the rows and commits; after the commit the marker and
the journal go. If the commit fails the folder is removed. A process that dies leaves its lock free: the
next server start removes what it left in staging, and any `vNNN` folder its journal names that still
holds its pending marker and has no row (or just the marker, when the row was committed).
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..storage.atomic import atomic_write_json, fsync_dir

try:  # POSIX; on Windows the server runs as one process and every staged owner but ours is stale.
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

STAGING_DIR = ".aipipe-staging"
PENDING_MARKER = ".aipipe-pending"
PLACE_WAIT_S = 10.0  # how long a publisher waits for another process's failed placement to clear away
PLACE_POLL_S = 0.05

logger = logging.getLogger(__name__)
VersionExists = Callable[[uuid.UUID], bool]


class FolderTaken(Exception):
    """The target `vNNN` folder exists and is not ours to replace; the message says why."""


def _try_lock(fd: int) -> bool:
    if fcntl is None:  # pragma: no cover
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            return False
        if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP):
            # A filesystem without locks: behave as the only server process (as with SQLite).
            logger.warning("the staging area's filesystem has no file locks; run one server process")
            return True
        raise
    return True


@dataclass
class StagedUpload:
    """One upload's private folder; `placed` is the final folder once it has been renamed there."""

    id: uuid.UUID
    folder: Path
    journal: Path
    placed: Path | None = None
    version_id: uuid.UUID | None = None
    committed: bool = False


@dataclass
class StagingArea:
    """This process's part of the staging area (see the module doc)."""

    root: Path  # the storage root
    owner: str = field(default_factory=lambda: uuid.uuid4().hex)
    _lock_fd: int | None = None
    _placing: set[uuid.UUID] = field(default_factory=set)

    @property
    def base(self) -> Path:
        return self.root / STAGING_DIR

    @property
    def own_dir(self) -> Path:
        return self.base / self.owner

    @classmethod
    def open(cls, storage_root: Path, version_exists: VersionExists) -> StagingArea:
        """Clean up after dead server processes, then claim an owner folder for this one."""
        area = cls(storage_root)
        area.base.mkdir(parents=True, exist_ok=True)
        area.recover(version_exists)
        lock_path = area.base / f"{area.owner}.lock"
        area._lock_fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        if not _try_lock(area._lock_fd):  # pragma: no cover - a fresh random name
            raise RuntimeError(f"staging lock {lock_path} is held by another process")
        area.own_dir.mkdir(exist_ok=True)
        return area

    def close(self) -> None:
        """Give up this process's owner folder (uploads in flight have finished or failed by now)."""
        if self._lock_fd is None:
            return
        shutil.rmtree(self.own_dir, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            (self.base / f"{self.owner}.lock").unlink()
        os.close(self._lock_fd)
        self._lock_fd = None

    # -- receiving ------------------------------------------------------------------------------------

    def new_upload(self) -> StagedUpload:
        upload_id = uuid.uuid4()
        folder = self.own_dir / upload_id.hex
        folder.mkdir(parents=True)
        return StagedUpload(upload_id, folder, self.own_dir / f"{upload_id.hex}.json")

    def discard(self, upload: StagedUpload) -> None:
        """Remove everything an upload that did not become a version left behind."""
        if upload.committed:
            return
        if upload.placed is not None:
            self.unplace(upload)
        shutil.rmtree(upload.folder, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            upload.journal.unlink()

    # -- placing (inside the numbering transaction) ----------------------------------------------------

    def place(self, upload: StagedUpload, target: Path, version_id: uuid.UUID) -> None:
        """Journal, mark and rename the staged folder to `target`; call while holding the numbering turn."""
        self._clear_target(target)
        relative = target.relative_to(self.root).as_posix()
        atomic_write_json(upload.journal, {"target": relative, "version_id": str(version_id)})
        marker = {"owner": self.owner, "version_id": str(version_id)}
        atomic_write_json(upload.folder / PENDING_MARKER, marker)
        fsync_dir(upload.folder)
        target.parent.mkdir(parents=True, exist_ok=True)
        self._placing.add(version_id)
        try:
            os.rename(upload.folder, target)
        except BaseException:
            self._placing.discard(version_id)
            raise
        upload.placed, upload.version_id = target, version_id
        fsync_dir(target.parent)

    def finish(self, upload: StagedUpload) -> None:
        """The rows are committed: the folder is a version now; drop the marker and the journal."""
        assert upload.placed is not None and upload.version_id is not None
        with contextlib.suppress(FileNotFoundError):
            (upload.placed / PENDING_MARKER).unlink()
        fsync_dir(upload.placed)
        with contextlib.suppress(FileNotFoundError):
            upload.journal.unlink()
        self._placing.discard(upload.version_id)
        upload.committed = True

    def unplace(self, upload: StagedUpload) -> None:
        """The rows were not committed: remove the placed folder (it holds only this upload's files)."""
        if upload.placed is None or upload.version_id is None or upload.committed:
            return
        if _marker_of(upload.placed).get("version_id") == str(upload.version_id):
            shutil.rmtree(upload.placed, ignore_errors=True)
            fsync_dir(upload.placed.parent)
        with contextlib.suppress(FileNotFoundError):
            upload.journal.unlink()
        self._placing.discard(upload.version_id)
        upload.placed = None

    def _clear_target(self, target: Path) -> None:
        """Make room for `target`: an empty folder or a dead upload's leftover goes; anything else refuses."""
        deadline = time.monotonic() + PLACE_WAIT_S
        while True:
            if not target.exists():
                return
            if target.is_dir() and not any(target.iterdir()):
                target.rmdir()
                return
            marker = _marker_of(target)
            if not marker:
                raise FolderTaken(
                    f"{target.relative_to(self.root).as_posix()} already exists on disk but is not a version "
                    "the server knows; move it away and publish again"
                )
            if not self._owner_alive(marker):
                logger.warning("removing a crashed upload's folder", extra={"path": str(target)})
                shutil.rmtree(target, ignore_errors=True)
                continue
            # Another live placement whose commit failed is removing its folder right now.
            if time.monotonic() > deadline:
                raise FolderTaken(
                    f"{target.relative_to(self.root).as_posix()} is still being cleared after a failed "
                    "publish; try again"
                )
            time.sleep(PLACE_POLL_S)

    def _owner_alive(self, marker: dict[str, str]) -> bool:
        owner = marker.get("owner", "")
        if owner == self.owner:
            return marker.get("version_id") in {str(v) for v in self._placing}
        return _owner_lock_held(self.base, owner)

    # -- recovery at start-up --------------------------------------------------------------------------

    def recover(self, version_exists: VersionExists) -> None:
        """Remove what dead server processes left: staged uploads, and `vNNN` folders never committed."""
        if not self.base.is_dir():
            return
        owners = {p.stem for p in self.base.glob("*.lock")} | {
            p.name for p in self.base.iterdir() if p.is_dir()
        }
        for owner in sorted(owners):
            if owner == self.owner:
                continue
            lock_path = self.base / f"{owner}.lock"
            fd = None
            with contextlib.suppress(FileNotFoundError):
                fd = os.open(lock_path, os.O_RDWR)
            if fd is not None and not _try_lock(fd):
                os.close(fd)
                continue  # a live server process
            try:
                self._recover_owner(self.base / owner, version_exists)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    lock_path.unlink()
                if fd is not None:
                    os.close(fd)

    def _recover_owner(self, folder: Path, version_exists: VersionExists) -> None:
        if folder.is_dir():
            for journal in sorted(folder.glob("*.json")):
                self._recover_placement(journal, version_exists)
            shutil.rmtree(folder, ignore_errors=True)
            logger.info("removed a dead server's staged uploads", extra={"path": str(folder)})

    def _recover_placement(self, journal: Path, version_exists: VersionExists) -> None:
        try:
            entry = json.loads(journal.read_text(encoding="utf-8"))
            target = self.root / entry["target"]
            version_id = uuid.UUID(entry["version_id"])
        except (OSError, ValueError, KeyError):
            logger.warning("unreadable staging journal ignored", extra={"path": str(journal)})
            return
        if _marker_of(target).get("version_id") != str(version_id):
            return  # never placed, or the folder now belongs to another version
        if version_exists(version_id):
            (target / PENDING_MARKER).unlink(missing_ok=True)
            logger.info("completed a committed version's folder", extra={"path": str(target)})
        else:
            shutil.rmtree(target, ignore_errors=True)
            logger.warning("removed a version folder that was never committed", extra={"path": str(target)})


def _marker_of(folder: Path) -> dict[str, str]:
    try:
        data = json.loads((folder / PENDING_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _owner_lock_held(base: Path, owner: str) -> bool:
    try:
        fd = os.open(base / f"{owner}.lock", os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        # Getting the lock means its owner is gone (closing our descriptor releases it again).
        return not _try_lock(fd)
    finally:
        os.close(fd)
