"""Which server process holds a proxy render, and whether that process is still there.

A holder is written as `host|pid namespace|pid|start time` of the process (`this_process`). Another server
process on the same machine and in the same PID namespace can tell at once that the holder is gone (no such
process, or another one since under that pid: its start time differs), where otherwise it waits for the
holder's heartbeat to go stale. Anything it cannot tell (another machine or container, no /proc) counts as
alive: the heartbeat decides, as before.
"""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path

logger = logging.getLogger(__name__)

SEPARATOR = "|"


def _pid_namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


def _started(pid: int) -> str | None:
    """The process's start time (clock ticks after boot, /proc/<pid>/stat field 22), None when there is no
    such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def this_process() -> str:
    """The holder written by this process: empty where the machine cannot tell a process's liveness."""
    namespace = _pid_namespace()
    started = _started(os.getpid()) if namespace else None
    if not namespace or started is None:
        return ""
    return SEPARATOR.join((socket.gethostname(), namespace, str(os.getpid()), started))


def machine_of(here: str) -> str:
    """The leading part of the holders written on this machine and in this PID namespace."""
    return SEPARATOR.join(here.split(SEPARATOR)[:2]) + SEPARATOR


def gone(holder: str | None, here: str) -> bool:
    """Whether `holder` names a process of this machine and PID namespace (`here`: `this_process()`) that is
    no longer running. False for anything it cannot tell."""
    if not holder or not here:
        return False
    parts, mine = holder.split(SEPARATOR), here.split(SEPARATOR)
    if len(parts) != 4 or parts[:2] != mine[:2] or not parts[2].isdigit():
        return False
    try:
        return _started(int(parts[2])) != parts[3]
    except OSError:
        logger.warning("could not read whether a proxy render's server process runs", exc_info=True)
        return False
