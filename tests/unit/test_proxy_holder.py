"""Whether the server process holding a proxy render is still there (`sync_server.editorial.holder`): told
at once on the same machine, never guessed elsewhere."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sync_server.editorial import holder

HERE = holder.this_process()
pytestmark = pytest.mark.skipif(not HERE, reason="no /proc here: liveness is left to the heartbeat")


def _of(pid: int, started: str) -> str:
    host, namespace, _, _ = HERE.split(holder.SEPARATOR)
    return holder.SEPARATOR.join((host, namespace, str(pid), started))


def test_a_running_process_is_not_gone_and_an_ended_one_is() -> None:
    assert not holder.gone(HERE, HERE)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        started = holder._started(child.pid)
        assert started is not None
        alive = _of(child.pid, started)
        assert not holder.gone(alive, HERE)
    finally:
        child.kill()
        child.wait()
    assert holder.gone(alive, HERE)


def test_a_pid_used_again_by_another_process_is_gone() -> None:
    _, _, pid, started = HERE.split(holder.SEPARATOR)
    assert holder.gone(_of(int(pid), str(int(started) - 1)), HERE)


@pytest.mark.parametrize(
    "other",
    [
        None,
        "",
        "garbage",
        "another-host|pid:[1]|1|1",  # another machine: only its heartbeat can tell
        "{host}|pid:[999]|1|1",  # another container's PID namespace on this machine
        "{host}|{namespace}|notapid|1",
    ],
)
def test_what_cannot_be_told_counts_as_alive(other: str | None) -> None:
    host, namespace, _, _ = HERE.split(holder.SEPARATOR)
    value = other.format(host=host, namespace=namespace) if other else other
    assert not holder.gone(value, HERE)
    assert not holder.gone(HERE, "")  # this machine cannot tell: nothing is gone
