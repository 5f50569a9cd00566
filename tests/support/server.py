"""Start the real `aipipe server` in a subprocess on a free loopback port, as a studio would run it."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

# The server runs from the full environment; the agent-host tier (an environment with only the agent's
# extra) names that environment's Python in AIPIPE_TEST_SERVER_PYTHON.
AIPIPE = [os.environ.get("AIPIPE_TEST_SERVER_PYTHON") or sys.executable, "-m", "sync_server"]
START_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_cli(
    *args: str,
    data_dir: Path,
    database_url: str | None,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    command = [*AIPIPE, *args, "--data-dir", str(data_dir)]
    if database_url:
        command += ["--database-url", database_url]
    return subprocess.run(
        command,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        check=False,
    )


@dataclass
class ServerProcess:
    """One `aipipe server` process; `start()` waits until /api/health answers."""

    data_dir: Path
    database_url: str | None
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    process: subprocess.Popen[str] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self) -> ServerProcess:
        self.port = free_port()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.data_dir / f"server-{self.port}.log"
        command = [
            *AIPIPE,
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            "--init",  # test servers start on fresh data folders
        ]
        if self.database_url:
            command += ["--database-url", self.database_url]
        # Test servers share two cores with the test workers and Blender: their imports and proxies are not
        # niced below those (tests/unit/test_spawned_priority.py checks the niceness itself).
        env = {
            **os.environ,
            "AIPIPE_LOG_FORMAT": "json",
            "AIPIPE_LOG_LEVEL": "WARNING",
            "AIPIPE_BACKGROUND_NICE": "0",
            **self.env,
        }
        log = self.log_path.open("a", encoding="utf-8")
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, text=True, env=env)
        deadline = time.monotonic() + START_TIMEOUT_S
        # One client for every poll: each new one loads the CA bundle (a quarter second of CPU on a busy box).
        with httpx.Client(timeout=1.0) as probe:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log()}")
                try:
                    if probe.get(f"{self.url}/api/health").status_code == 200:
                        return self
                except httpx.HTTPError:
                    time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not answer within {START_TIMEOUT_S}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8") if self.log_path and self.log_path.exists() else ""

    def stop(self, kill: bool = False) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


def start_with_admin(
    data_dir: Path, database_url: str | None, username: str, env: dict[str, str] | None = None
) -> tuple[ServerProcess, str]:
    """Create an admin through the real CLI, then start a server; return it and the admin's password."""
    password = create_admin(data_dir, database_url, username)
    return ServerProcess(data_dir, database_url, env=env or {}).start(), password


def create_admin(data_dir: Path, database_url: str | None, username: str) -> str:
    """Create an admin through the real CLI, as a studio would (the database too, if there is none yet);
    return the password it was given."""
    password = secrets.token_urlsafe(12)
    created = run_cli(
        "admin",
        "create-user",
        username,
        "--role",
        "admin",
        "--password-stdin",
        "--init",
        data_dir=data_dir,
        database_url=database_url,
        stdin=password + "\n",
    )
    if created.returncode != 0:
        raise RuntimeError(f"creating the admin failed: {created.stderr}{created.stdout}")
    return password
