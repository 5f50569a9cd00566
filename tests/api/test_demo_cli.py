"""`aipipe demo` run again and again: its render agent registers every time, and the banner says it runs
only once the server has seen it; the banner names the one command that points the CLI at the demo."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

from tests.support.server import AIPIPE, free_port

DEMO_START_S = 240.0


def _wait_for(log: Path, process: subprocess.Popen[bytes], *texts: str) -> str:
    """The demo's output once it holds one of `texts` (or the demo ended, or the deadline passed)."""
    deadline = time.monotonic() + DEMO_START_S
    while time.monotonic() < deadline:
        shown = log.read_text(encoding="utf-8", errors="replace")
        if any(text in shown for text in texts) or process.poll() is not None:
            return shown
        time.sleep(0.2)  # the demo is another process writing a file: nothing to wait on but the file
    return log.read_text(encoding="utf-8", errors="replace")


def _run_demo(data_dir: Path, log: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIPIPE_")}
    env |= {"AIPIPE_LOG_LEVEL": "WARNING", "COLUMNS": "200"}
    port = free_port()
    command = [*AIPIPE, "demo", "--data-dir", str(data_dir), "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        shown = _wait_for(
            log, process, "agent (proxy,transcode) is running", "agent stopped", "did not register"
        )
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    assert f"aipipe login http://127.0.0.1:{port}" in shown, shown
    # The printed command runs as typed from where the demo was started (a new shell: no venv on PATH).
    printed = shown.split("Command line: ", 1)[1].split(" login ", 1)[0]
    found = printed if "/" in printed else shutil.which(printed, path=os.defpath)
    assert found and os.access(found, os.X_OK), printed
    return shown


def _agent_keys(data_dir: Path) -> list[str]:
    """The ids of the demo agent's keys that still work (read-only: the demo may be serving)."""
    with contextlib.closing(sqlite3.connect(f"{(data_dir / 'aipipe.db').as_uri()}?mode=ro", uri=True)) as db:
        rows = db.execute(
            "SELECT id FROM api_keys WHERE name = 'demo-cpu-agent' AND revoked_at IS NULL"
        ).fetchall()
    return [str(row[0]) for row in rows]


def test_the_demo_can_run_again_and_its_agent_registers_each_time(tmp_path: Path) -> None:
    data_dir = tmp_path / "demo"
    first = _run_demo(data_dir, tmp_path / "first.log")
    assert "Local render agent (proxy,transcode) is running" in first, first
    keys = _agent_keys(data_dir)
    assert len(keys) == 1, keys

    # `--no-serve` (only the data, e.g. beside a demo that serves) leaves the running agent's key alone.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIPIPE_")}
    env["AIPIPE_LOG_LEVEL"] = "WARNING"
    prepared = subprocess.run(
        [*AIPIPE, "demo", "--data-dir", str(data_dir), "--no-serve"],
        capture_output=True, text=True, env=env, timeout=DEMO_START_S, check=False,
    )  # fmt: skip
    assert prepared.returncode == 0, prepared.stderr + prepared.stdout
    assert _agent_keys(data_dir) == keys
    second = _run_demo(data_dir, tmp_path / "second.log")
    assert "Local render agent (proxy,transcode) is running" in second, second
    assert "another API key" not in (data_dir / "demo_agent.log").read_text(encoding="utf-8")
