"""`aipipe farm`, the wrangler's CLI, run as a subprocess against a real server: what it changes, the API
reports."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.api.test_farm import GPU_24, agent_client, claim, drain_queue, register, submit
from tests.conftest import ADMIN, start_server_with_admin
from tests.support.api import Api, login

CLI_TIMEOUT_S = 60


@dataclass
class Farm:
    api: Api
    env: dict[str, str]

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`aipipe farm ARGS`, the server and a wrangler key given in the environment as a wrangler would."""
        return subprocess.run(
            [sys.executable, "-m", "sync_server", "farm", *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=CLI_TIMEOUT_S,
            check=False,
        )

    def job(self, job_id: str) -> dict[str, Any]:
        return self.api.admin.get(f"/api/farm/jobs/{job_id}").json()

    def agent(self, agent_id: str) -> dict[str, Any]:
        return next(a for a in self.api.admin.get("/api/farm/agents").json() if a["id"] == agent_id)


@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Farm]:
    """One server for the module (the CLI speaks only HTTP, so one backend is enough) and a wrangler key."""
    server, password = start_server_with_admin(tmp_path_factory.mktemp("farm-cli"), None)
    admin = login(server.url, ADMIN, password)
    try:
        key = admin.post("/api/api-keys", json={"name": "wrangler-cli", "role": "wrangler"})
        assert key.status_code == 201, key.text
        env = {
            **os.environ,
            "AIPIPE_SERVER_URL": server.url,
            "AIPIPE_API_KEY": key.json()["key"],
            "COLUMNS": "200",  # wide tables: nothing is cut off
        }
        yield Farm(Api(server.url, server.ws_url, admin, "sqlite"), env)
    finally:
        admin.close()
        server.stop()


@pytest.fixture
def agent(farm: Farm) -> tuple[httpx.Client, str, str]:
    """A registered agent on an empty queue: its client, id and name."""
    drain_queue(farm.api)
    client = agent_client(farm.api)
    name = f"gpu-{uuid.uuid4().hex[:8]}"
    return client, register(client, GPU_24, name=name, tags=["wan"]), name


def cell(output: str, label: str) -> str:
    """The value beside `label` in a two-column rich table."""
    found = re.search(rf"{re.escape(label)}\s*│\s*([^│]*?)\s*│", output)
    assert found, f"no '{label}' row in:\n{output}"
    return found.group(1)


def test_status_shows_a_registered_agent_its_gpu_and_current_job_and_the_queue_depth(
    farm: Farm, agent: tuple[httpx.Client, str, str]
) -> None:
    client, agent_id, name = agent
    jobs = [submit(farm.api) for _ in range(3)]
    running = claim(client, agent_id)
    assert running is not None
    shown = farm.cli("status")
    assert shown.returncode == 0, shown.stderr
    row = next(line for line in shown.stdout.splitlines() if name in line)
    assert "busy" in row and "RTX 4090 24 GB" in row and running["job"]["id"][:8] in row
    reported = farm.api.admin.get("/api/farm/status").json()
    assert int(cell(shown.stdout, "queue depth")) == reported["queue_depth"] == len(jobs) - 1
    assert int(cell(shown.stdout, "running")) == reported["running"] >= 1


def test_priority_cancel_and_retry_by_id_prefix_change_what_the_api_reports(farm: Farm) -> None:
    drain_queue(farm.api)
    job = submit(farm.api)
    prefix = job["id"][:8]
    raised = farm.cli("priority", prefix, "90")
    assert raised.returncode == 0, raised.stderr
    assert farm.job(job["id"])["priority"] == 90
    cancelled = farm.cli("cancel", prefix)
    assert cancelled.returncode == 0, cancelled.stderr
    assert farm.job(job["id"])["status"] == "cancelled"
    retried = farm.cli("retry", job["id"])
    assert retried.returncode == 0, retried.stderr
    assert farm.job(job["id"])["status"] == "queued"
    listed = farm.cli("jobs", "--status", "queued")
    assert listed.returncode == 0 and prefix in listed.stdout and "90" in listed.stdout


def test_a_refusal_is_shown_with_the_servers_detail_and_a_non_zero_exit(farm: Farm) -> None:
    job = submit(farm.api)  # queued: nothing to retry
    refused = farm.cli("retry", job["id"])
    assert refused.returncode == 1
    assert "Only failed or cancelled jobs are retried; this one is queued." in refused.stderr


def test_an_unknown_job_id_or_prefix_exits_non_zero_naming_it(farm: Farm) -> None:
    unknown, prefix = str(uuid.uuid4()), "0000dead"
    with ThreadPoolExecutor(max_workers=2) as pool:
        by_id, by_prefix = pool.map(lambda ref: farm.cli("cancel", ref), [unknown, prefix])
    assert by_id.returncode == 1 and unknown in by_id.stderr, by_id.stderr
    assert by_prefix.returncode == 1 and prefix in by_prefix.stderr, by_prefix.stderr


def test_drain_by_name_and_undrain_by_id_change_what_the_api_reports(
    farm: Farm, agent: tuple[httpx.Client, str, str]
) -> None:
    _, agent_id, name = agent
    drained = farm.cli("drain", name)
    assert drained.returncode == 0, drained.stderr
    assert farm.agent(agent_id)["draining"] is True
    undrained = farm.cli("undrain", agent_id)
    assert undrained.returncode == 0, undrained.stderr
    assert farm.agent(agent_id)["draining"] is False


def test_blocklist_show_names_the_agent_and_clear_lets_it_run_the_type_again(
    farm: Farm, agent: tuple[httpx.Client, str, str]
) -> None:
    client, agent_id, name = agent
    for _ in range(3):
        job = submit(farm.api)
        got = claim(client, agent_id)
        assert got is not None and got["job"]["id"] == job["id"]
        client.post(
            f"/api/farm/jobs/{job['id']}/fail",
            # the agent's own fault (an input error is the job's and blocklists nobody)
            json={"lease_id": got["lease"]["id"], "error": "CUDA out of memory", "kind": "agent"},
        )
    shown = farm.cli("blocklist", "show", "--agent", name)
    assert shown.returncode == 0, shown.stderr
    row = next(line for line in shown.stdout.splitlines() if name in line)
    assert "i2v" in row and "3" in row
    cleared = farm.cli("blocklist", "clear", name, "--type", "i2v")
    assert cleared.returncode == 0, cleared.stderr
    assert farm.api.admin.get("/api/farm/blocklist", params={"agent_id": agent_id}).json() == []


# -- output through a pipe (scripts, logs, CI) -----------------------------------------------------------


def farm_cli(farm: Farm, *args: str) -> subprocess.CompletedProcess[str]:
    """`aipipe farm ARGS` through a pipe, with no COLUMNS hint: the width is the CLI's own choice."""
    env = {k: v for k, v in farm.env.items() if k not in ("COLUMNS", "LINES")}
    return subprocess.run(
        [sys.executable, "-m", "sync_server", "farm", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=CLI_TIMEOUT_S,
        check=False,
    )


def test_status_is_a_readable_table_through_a_pipe_and_json_with_json(
    farm: Farm, agent: tuple[httpx.Client, str, str]
) -> None:
    _, agent_id, name = agent
    shown = farm_cli(farm, "status")
    assert shown.returncode == 0, shown.stderr
    header = next(line for line in shown.stdout.splitlines() if "agent" in line and "state" in line)
    for column in ("GPUs", "current job", "last seen", "blocked for"):
        assert column in header  # whole words, not one character a line
    row = next(line for line in shown.stdout.splitlines() if name in line)
    assert "RTX 4090 24 GB" in row and "idle" in row

    as_json = farm_cli(farm, "status", "--json")
    assert as_json.returncode == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    assert agent_id in [a["id"] for a in data["agents"]] and "queue_depth" in data["farm"]


def test_farm_job_shows_one_job_in_full_and_jobs_json_is_only_json(
    farm: Farm, agent: tuple[httpx.Client, str, str]
) -> None:
    client, agent_id, name = agent
    job = submit(farm.api)
    got = claim(client, agent_id)
    assert got is not None and got["job"]["id"] == job["id"]
    error = (
        "SaveVideo: avcodec_open2(libx264) refused 511x287 (odd sizes) while writing "
        "/mnt/nas/projects/NIGHT_ALLEY/scenes/SCN_010/shots/SHT_0010/render/v003/SHT_0010_render_v003.mp4 "
        + "detail " * 40
        + "(end of the message)"
    )
    failed = client.post(
        f"/api/farm/jobs/{job['id']}/fail",
        json={"lease_id": got["lease"]["id"], "error": error, "retryable": False},
    )
    assert failed.status_code == 200, failed.text
    stored: dict[str, Any] = farm.job(job["id"])

    shown = farm_cli(farm, "job", job["id"][:8])
    assert shown.returncode == 0, shown.stderr
    assert stored["error"] and stored["error"] in shown.stdout  # the whole text, on its own lines
    assert "…" not in shown.stdout
    assert f"{stored['attempts']} of {stored['max_attempts']}" in shown.stdout
    assert name in shown.stdout and stored["status"] in shown.stdout
    for failure in stored["failures"]:
        assert str(failure.get("kind", "")) in shown.stdout
    # Agents are named as the wrangler knows them ("failed on", the failures table), not by their ids.
    assert stored["failed_agents"] == [agent_id] and stored["failures"][0]["agent"] == agent_id
    assert agent_id not in shown.stdout
    [failed_on] = [line for line in shown.stdout.splitlines() if "failed on" in line]
    assert name in failed_on, failed_on

    as_json = farm_cli(farm, "job", job["id"], "--json")
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout) == stored

    listed = farm_cli(farm, "jobs", "--json", "--limit", "5000")
    assert listed.returncode == 0, listed.stderr
    assert job["id"] in [j["id"] for j in json.loads(listed.stdout)["items"]]
    blocks = farm_cli(farm, "blocklist", "show", "--json")
    assert blocks.returncode == 0 and isinstance(json.loads(blocks.stdout), list), blocks.stderr


def test_status_shows_an_agent_whose_comfyui_does_not_answer_with_the_reason(
    farm: Farm, agent: tuple[httpx.Client, str, str]
) -> None:
    client, agent_id, name = agent
    reason = "ComfyUI at http://127.0.0.1:8188 does not answer: connection refused"
    beat = client.post(
        f"/api/farm/agents/{agent_id}/heartbeat", json={"state": "unavailable", "reason": reason}
    )
    assert beat.status_code == 200, beat.text
    shown = farm.cli("status")
    assert shown.returncode == 0, shown.stderr
    row = " ".join(line for line in shown.stdout.splitlines() if name in line or "connection refused" in line)
    assert "unavailable" in row and "does not answer" in row and "idle" not in row
    client.post(f"/api/farm/agents/{agent_id}/heartbeat", json={"state": "idle"})
