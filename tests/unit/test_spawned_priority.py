"""Heavy work steps aside for the server (issue 18 §1): spawned processes (shot-list imports, camera solves)
and child programs (the proxy's ffmpeg) run at a lower CPU priority than the server process."""

from __future__ import annotations

import os
import subprocess
import sys

from sync_server.errors import Unprocessable
from sync_server.spawned import SpawnedPool, niced


def niceness() -> int:
    return os.nice(0)


def test_a_spawned_process_runs_niced_below_the_server() -> None:
    pool = SpawnedPool(1, nice=5)
    try:
        child = pool.run(niceness, broken=lambda: Unprocessable("gone", field="x"))
    finally:
        pool.close()
    assert child == min(19, niceness() + 5)


def test_a_child_program_runs_niced_below_the_server() -> None:
    command = niced([sys.executable, "-c", "import os; print(os.nice(0))"], 7)
    shown = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    assert int(shown) == min(19, niceness() + 7)
    assert niced(["ffmpeg"], 0) == ["ffmpeg"]  # nice 0: the command as it is
