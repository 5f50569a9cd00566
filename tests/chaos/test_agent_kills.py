"""Chaos: render agents are killed (SIGKILL) mid-job and restarted, again and again, while a queue of jobs
runs on real agent processes, a real server and the ComfyUI stand-in.

Half the killed agents restart at once (their registration gives the lease back), the others stay down
until their lease expires. Passes only when every job ends succeeded exactly once (nothing lost, nothing
done twice), no kill counts as a failure of the job or of the agent (no failure marks, nobody blocklisted)
and each killed job goes back to the queue promptly. Prints the figures (RELIABILITY.md keeps them).
Bounded for CI (no more kills once the queue is done); raise AIPIPE_CHAOS_AGENT_KILLS /
AIPIPE_CHAOS_AGENT_JOBS for a longer run.
"""

from __future__ import annotations

import os
import signal
import statistics
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.agent.farm_rig import AgentProcess, Farm, agent_process, running_farm, wait_for
from tests.comfyui_standin.fixtures import RunningStandin, running_standin, write_probe_image

KILLS = int(os.environ.get("AIPIPE_CHAOS_AGENT_KILLS", "4"))
JOBS = int(os.environ.get("AIPIPE_CHAOS_AGENT_JOBS", "10"))
AGENTS = 2
FARM_ENV = {
    "AIPIPE_FARM_RETRY_BACKOFF_S": "0.5",
    "AIPIPE_FARM_SWEEP_S": "0.5",
    "AIPIPE_FARM_HEARTBEAT_S": "1",
    "AIPIPE_FARM_LEASE_S": "5",
}
PARAMS = {"image": "first_frame.png", "width": 160, "height": 90, "length": 12, "fps": 12.0}


def _running_or_done(farm: Farm, jobs: list[str]) -> list[dict[str, Any]] | str | None:
    """The running jobs, "done" when none is left to run, or None (wait)."""
    running = farm.admin.get("/api/farm/jobs", params={"status": "running"}).json()["items"]
    if running:
        return running
    queued = farm.admin.get("/api/farm/jobs", params={"status": "queued"}).json()["total"]
    return "done" if queued == 0 else None


def _report(capsys: pytest.CaptureFixture[str], figures: dict[str, object]) -> None:
    with capsys.disabled():
        print("\n[chaos] agent kills: " + ", ".join(f"{k}={v}" for k, v in figures.items()))  # noqa: T201


class Agents:
    """The agent processes by name; `kill` SIGKILLs one and starts it again (same name, same folder)."""

    def __init__(self, stack: ExitStack, farm: Farm, comfys: list[RunningStandin], root: Path) -> None:
        self.stack, self.farm, self.root = stack, farm, root
        self.comfy = {f"chaos-{i}": comfy.url for i, comfy in enumerate(comfys)}
        self.running: dict[str, AgentProcess] = {}
        for name in self.comfy:
            self.start(name)

    def start(self, name: str) -> None:
        self.running[name] = self.stack.enter_context(
            agent_process(
                [self.farm.url],
                self.farm.agent_key,
                self.root / name,
                name=name,
                comfyui=self.comfy[name],
                env={"AIPIPE_AGENT_PROGRESS_INTERVAL_S": "0.2"},
            )
        )

    def kill(self, name: str) -> None:
        process = self.running[name].process
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)


def test_agents_killed_mid_job_lose_nothing_duplicate_nothing_and_are_not_blamed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    with ExitStack() as stack:
        farm = stack.enter_context(running_farm(tmp_path / "server", FARM_ENV))
        comfys = []
        for i in range(AGENTS):
            comfy = stack.enter_context(
                running_standin(tmp_path / f"comfy-{i}", node_delay=0.8, progress_steps=2)
            )
            write_probe_image(comfy.comfy.input_dir / "first_frame.png", (320, 180))
            comfys.append(comfy)
        jobs = []
        for _ in range(JOBS):
            body = {"type": "i2v", "workflow": "cpu_test_still_video", "params": PARAMS}
            response = farm.admin.post("/api/farm/jobs", json=body)
            assert response.status_code == 201, response.text
            jobs.append(response.json()["id"])
        agents = Agents(stack, farm, comfys, tmp_path / "agents")

        requeue_s: dict[str, list[float]] = {"restart": [], "expiry": []}
        kills = 0
        for kill in range(KILLS):
            # Even kills: the agent restarts at once (its registration gives the lease back). Odd kills: it
            # stays down until its lease expires (a host that died); the other agent takes the job.
            how = "restart" if kill % 2 == 0 else "expiry"
            busy = wait_for(
                lambda: _running_or_done(farm, jobs), f"a running job to kill (kill {kill + 1})", timeout=60
            )
            if busy == "done":
                break  # the queue is done: nothing left to kill
            victim = busy[0]
            killed_at = time.monotonic()
            agents.kill(victim["agent_name"])
            if how == "restart":
                agents.start(victim["agent_name"])
            # Back in the queue (or already on an agent again) under a new lease, not as a failure.
            wait_for(
                lambda v=victim: (
                    farm.job(v["id"])["lease_losses"] > v["lease_losses"]
                    or farm.job(v["id"])["status"] == "succeeded"
                ),
                f"job {victim['id']} requeued after kill {kill + 1}",
                timeout=20,
            )
            requeue_s[how].append(time.monotonic() - killed_at)
            kills += 1
            if how == "expiry":
                agents.start(victim["agent_name"])

        def all_finished() -> list[dict[str, object]] | None:
            states = [farm.job(job_id) for job_id in jobs]
            return (
                states if all(s["status"] in ("succeeded", "failed", "cancelled") for s in states) else None
            )

        finished = wait_for(all_finished, "every job finished", timeout=60)
        blocklist = farm.admin.get("/api/farm/blocklist").json()

    lost = [j["id"] for j in finished if j["status"] != "succeeded"]
    # Done twice: more than one output stored, or a success counted by more than one lease.
    duplicated = [j["id"] for j in finished if len(j["outputs"]) != 1]
    blamed = [j["id"] for j in finished if j["failures"] or j["failed_agents"]]
    figures = {
        "agents": AGENTS,
        "jobs": JOBS,
        "kills": kills,
        "lost": len(lost),
        "duplicated": len(duplicated),
        "failure_marks": len(blamed),
        "blocklisted": len(blocklist),
        "lease_losses": sum(j["lease_losses"] for j in finished),
        **{
            f"requeue_s_{how}_{name}": round(fn(times), 2)
            for how, times in requeue_s.items()
            if times
            for name, fn in (("median", statistics.median), ("max", max))
        },
        "wall_s": round(time.monotonic() - started, 1),
    }
    _report(capsys, figures)
    assert not lost, (
        f"jobs not succeeded: {[(j['id'], j['status'], j['error']) for j in finished if j['id'] in lost]}"
    )
    assert not duplicated, f"jobs with other than one output: {duplicated}"
    assert not blamed, f"kills counted as failures: {blamed}"
    assert blocklist == [], f"agents blocklisted for being killed: {blocklist}"
    assert kills >= min(KILLS, 2), f"only {kills} kill(s) happened: the queue ran out"
