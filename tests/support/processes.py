"""Which process did the work: a server's JSON log records with a message, and a process's parent (for tests
that work ran in a child process of the server, not on its GIL)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


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
