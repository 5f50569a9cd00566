"""What `aipipe demo` runs beside the server: a local render agent (CPU job types, and playblasts when a
Blender is given) and, with a Blender, the sample shot's layout scene and playblast made headless through
the Blender extension (`scripts/demo_layout.py`), as an artist would."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from ..db.engine import Database, make_database
from ..db.models import ApiKey
from ..settings import Settings
from ..users.schemas import ApiKeyCreate
from ..users.service import create_api_key, revoke_api_key
from .demo_data import DEMO_AGENT

log = logging.getLogger(__name__)

LAYOUT_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "demo_layout.py"
LAYOUT_KEY = "demo-layout"
STOP_WAIT_S = 15
AGENT_START_S = 60.0  # how long the demo waits for its agent to register before saying it did not
AGENT_POLL_S = 0.5


def agent_seen(db: Database) -> object:
    """When the demo agent last registered or called in (None: never): a change means it is running."""
    from ..db.models import Agent

    with db.read_sessions() as session:
        return session.scalar(select(Agent.last_seen_at).where(Agent.name == DEMO_AGENT))


def last_line(path: Path) -> str:
    lines = path.read_text(encoding="utf-8", errors="replace").strip().splitlines() if path.is_file() else []
    return lines[-1] if lines else "(no output)"


def layout_key(settings: Settings) -> str:
    """A fresh editor key for the demo's Blender session; keys from earlier runs are revoked."""
    from .common import system_uow

    with system_uow(settings) as uow:
        for old in uow.session.scalars(
            select(ApiKey).where(ApiKey.name == LAYOUT_KEY, ApiKey.revoked_at.is_(None))
        ):
            revoke_api_key(uow, old.id)
        return create_api_key(uow, ApiKeyCreate(name=LAYOUT_KEY, role="editor")).key


@dataclass
class DemoProcesses:
    settings: Settings
    agent_key: str
    say: Callable[[str], None]  # where progress lines go (the CLI's console)
    blender: str | None = None  # a Python with bpy (or Blender) for playblasts and the layout step
    layout: bool = True
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, url: str) -> None:
        """Called once the server listens on `url`."""
        self._start_agent(url)
        if self.blender and self.layout:
            if LAYOUT_SCRIPT.is_file():
                self._start_layout(url)
            else:
                self.say(f"Demo layout skipped: {LAYOUT_SCRIPT} is not here (not a source checkout).")

    def _start_agent(self, url: str) -> None:
        env = {
            **os.environ,
            "AIPIPE_AGENT_API_KEY": self.agent_key,
            "AIPIPE_AGENT_WORK_DIR": str((self.settings.data_dir / "agent").resolve()),
        }
        types = "proxy,transcode" + (",playblast" if self.blender else "")
        command = [sys.executable, "-m", "sync_server", "agent", "--server", url, "--name", DEMO_AGENT]
        command += ["--job-types", types] + (["--blender", self.blender] if self.blender else [])
        log_path = self.settings.data_dir / "demo_agent.log"
        db = make_database(self.settings.resolved_database_url)
        before = agent_seen(db)
        with log_path.open("ab") as log_file:
            process = subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.STDOUT)
        self.started.append(process)
        self.say(f"Local render agent ({types}) starting (log: {log_path}) …")

        def report() -> None:
            try:
                watch()
            finally:
                db.dispose()

        def watch() -> None:
            # The banner says the agent runs only once the server has seen it register.
            deadline = time.monotonic() + AGENT_START_S
            while time.monotonic() < deadline:
                try:
                    code = process.wait(timeout=AGENT_POLL_S)
                except subprocess.TimeoutExpired:
                    if agent_seen(db) != before:
                        self.say(f"Local render agent ({types}) is running; see it at {url}/api/farm/agents")
                        break
                    continue
                if code > 0:  # negative: stopped with the demo
                    self.say(
                        f"Local render agent stopped (exit {code}): {last_line(log_path)}; see {log_path}"
                    )
                return
            else:
                self.say(f"Local render agent did not register within {AGENT_START_S:.0f} s; see {log_path}")
            code = process.wait()
            if code > 0:
                self.say(f"Local render agent stopped (exit {code}): {last_line(log_path)}; see {log_path}")

        threading.Thread(target=report, name="demo-agent", daemon=True).start()

    def _start_layout(self, url: str) -> None:
        assert self.blender is not None
        log_path = self.settings.data_dir / "demo_layout.log"
        command = [self.blender, str(LAYOUT_SCRIPT), "--server", url, "--api-key", layout_key(self.settings)]
        with log_path.open("wb") as out:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        self.started.append(process)
        self.say(f"Demo layout: Blender is setting up the first shot and its playblast (log: {log_path}).")

        def report() -> None:
            code = process.wait()
            last = last_line(log_path)
            if code == 0:
                self.say(f"Demo layout: {last}")
            elif code > 0:  # negative: stopped with the demo
                self.say(f"Demo layout failed (exit {code}): {last}; see {log_path}")

        threading.Thread(target=report, name="demo-layout", daemon=True).start()

    def stop(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.terminate()
        for process in self.started:
            try:
                process.wait(timeout=STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                log.warning("demo process %s did not stop in %d s; killing it", process.pid, STOP_WAIT_S)
                process.kill()
