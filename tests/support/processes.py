"""Which process did the work: a server's JSON log records with a message, and a process's parent (for tests
that work ran in a child process of the server, not on its GIL)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.support.api import Api, login
from tests.support.server import ServerProcess, start_with_admin


@contextlib.contextmanager
def info_logging_server(directory: Path) -> Iterator[tuple[ServerProcess, Api]]:
    """A SQLite server of its own that logs at INFO (the shared test servers log warnings only), with its
    admin's client."""
    process, password = start_with_admin(directory, None, "admin", {"AIPIPE_LOG_LEVEL": "INFO"})
    admin = login(process.url, "admin", password)
    try:
        yield process, Api(process.url, process.ws_url, admin, "sqlite", data_dir=process.data_dir)
    finally:
        admin.close()
        process.stop()


def log_records(log: str, message: str) -> list[dict[str, Any]]:
    """The JSON log records (one a line) whose line holds `message` (a line that is not JSON is skipped)."""
    found = []
    for line in log.splitlines():
        if message in line:
            try:
                found.append(json.loads(line))
            except ValueError:
                continue
    return found


def parent_of(pid: int) -> int | None:
    """The parent process id of `pid` (Linux /proc), or None when the process is gone."""
    status = Path(f"/proc/{pid}/status")
    if not status.exists():
        return None
    for line in status.read_text().splitlines():
        if line.startswith("PPid:"):
            return int(line.split()[1])
    return None
