"""The outbox: reports survive the server being away (and an agent restart) and arrive in order."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from pathlib import Path
from typing import Any

import pytest

from render_agent.outbox import Outbox
from render_agent.server_client import Claim, FarmClient
from tests.agent.fake_farm import (
    FarmServer,
    agent_settings,
    enqueue_cpu_workflow,
    fake_farm_fixture,  # noqa: F401  (registers the fake_farm fixture)
    progress_seen,
    run,
    started_agent,
    wait_until,
)
from tests.comfyui_standin.fixtures import RunningStandin, running_standin


def test_server_away_mid_job_buffers_results_and_delivers_them_in_order_when_it_returns(
    fake_farm: FarmServer, tmp_path: Path
) -> None:
    farm = fake_farm.farm
    job_id, _ = enqueue_cpu_workflow(fake_farm, tmp_path)
    buffered: list[str] = []

    async def scenario(comfy: RunningStandin) -> None:
        settings = agent_settings(fake_farm, tmp_path / "agent", comfy.url)
        async with started_agent(settings) as running:
            await wait_until(lambda: progress_seen(fake_farm, job_id), what="progress")
            await asyncio.to_thread(fake_farm.stop)
            before = len(farm.calls)
            # the job goes on without the server; its reports wait in the outbox
            await wait_until(lambda: "complete" in _kinds(running.outbox), what="result buffered")
            buffered.extend(_kinds(running.outbox))
            assert running.agent.current is None and len(farm.calls) == before
            assert (tmp_path / "agent" / "jobs" / job_id).exists()  # outputs kept until delivered
            await asyncio.to_thread(fake_farm.start)  # same port, same in-memory state
            await wait_until(lambda: farm.jobs[job_id].status == "succeeded", what="delivered")
            await wait_until(lambda: len(running.outbox) == 0, what="outbox empty")

    with running_standin(tmp_path / "comfy", node_delay=0.3, progress_steps=3) as comfy:
        run(scenario(comfy))

    # Heartbeats are coalesced to the newest; whether one fell in the outage depends on timing,
    # but there is never more than one and the results follow it in order.
    assert buffered[-2:] == ["outputs", "complete"]
    assert buffered[:-2] in ([], ["job_heartbeat"])
    after_restart = [c for c in farm.calls if c.job_id == job_id][-len(buffered) :]
    assert [(c.kind, c.status) for c in after_restart] == [(kind, 200) for kind in buffered]
    [(sha, data)] = farm.jobs[job_id].outputs.values()
    assert sha == hashlib.sha256(data).hexdigest()
    assert not (tmp_path / "agent" / "jobs" / job_id).exists()


def _kinds(outbox: Outbox) -> list[str]:
    return [e.kind for e in outbox.entries()]


async def _claim(server: FarmServer, client: FarmClient) -> Claim:
    registration = await client.register(
        {
            "name": "outbox-test",
            "host": "localhost",
            "version": "0",
            "gpus": [],
            "gpu_error": "none here",
            "cpu_count": 1,
            "ram_mb": 1,
            "tags": [],
            "job_types": [],
            "loaded_models": [],
        }
    )
    claim = await client.claim(registration.agent_id, wait_s=1, loaded_models=[])
    assert claim is not None
    return claim


def _output(tmp_path: Path, name: str, data: bytes) -> dict[str, Any]:
    path = tmp_path / name
    path.write_bytes(data)
    return {"path": str(path), "name": name, "sha256": hashlib.sha256(data).hexdigest()}


def test_outbox_keeps_order_across_a_restart_and_flushes_oldest_first(
    fake_farm: FarmServer, tmp_path: Path
) -> None:
    farm = fake_farm.farm
    first, second = farm.enqueue("proxy"), farm.enqueue("proxy")

    async def scenario() -> list[str]:
        async with FarmClient(fake_farm.url, farm.api_key) as client:
            claim_a, claim_b = await _claim(fake_farm, client), await _claim(fake_farm, client)
            outbox = Outbox(tmp_path / "outbox.db")
            beat = {"lease_id": claim_a.lease_id}
            outbox.add(first, "job_heartbeat", {**beat, "progress": 0.5, "stage": "a"})
            outbox.add(
                second, "fail", {"lease_id": claim_b.lease_id, "error": "node 3: boom", "retryable": True}
            )
            outbox.add(first, "job_heartbeat", {**beat, "progress": 0.9, "stage": "b"})
            outbox.add(first, "outputs", {"lease_id": claim_a.lease_id, **_output(tmp_path, "a.png", b"A")})
            outbox.add(
                first, "complete", {"lease_id": claim_a.lease_id, "gpu_seconds": 1.5, "provenance": {}}
            )
            outbox.close()  # the agent stops; the reports are on disk
            reopened = Outbox(tmp_path / "outbox.db")
            kinds = [(e.job_id, e.kind) for e in reopened.entries()]
            result = await reopened.flush(client)
            assert result.complete and len(reopened) == 0 and len(result.delivered) == 4
            reopened.close()
            return [f"{job_id[:4]}:{kind}" for job_id, kind in kinds]

    order = run(scenario())
    a, b = first[:4], second[:4]
    # the newer heartbeat replaced the older one, in the newer one's place
    assert order == [f"{b}:fail", f"{a}:job_heartbeat", f"{a}:outputs", f"{a}:complete"]
    sent = [
        (c.job_id, c.kind) for c in farm.calls if c.kind in ("outputs", "fail", "complete", "job_heartbeat")
    ]
    assert sent == [(second, "fail"), (first, "job_heartbeat"), (first, "outputs"), (first, "complete")]
    assert farm.jobs[first].progress == [(0.9, "b")] and farm.jobs[first].status == "succeeded"


def test_a_result_refused_with_lease_lost_is_dropped_and_logged(
    fake_farm: FarmServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    farm = fake_farm.farm
    job_id = farm.enqueue("proxy")

    async def scenario() -> None:
        async with FarmClient(fake_farm.url, farm.api_key) as client:
            claim = await _claim(fake_farm, client)
            outbox = Outbox(tmp_path / "outbox.db")
            outbox.add(job_id, "outputs", {"lease_id": claim.lease_id, **_output(tmp_path, "a.png", b"A")})
            outbox.add(job_id, "complete", {"lease_id": claim.lease_id, "gpu_seconds": 2.0, "provenance": {}})
            farm.expire_lease(job_id)  # while the agent could not reach the server
            with caplog.at_level(logging.WARNING, logger="render_agent.outbox"):
                result = await outbox.flush(client)
            assert result.complete and result.dropped_jobs == {job_id} and len(outbox) == 0
            outbox.close()

    run(scenario())
    assert [(c.kind, c.status) for c in farm.calls if c.job_id == job_id][1:] == [("outputs", 409)]
    assert farm.jobs[job_id].outputs == {} and farm.jobs[job_id].result is None
    assert any(job_id in r.getMessage() and "dropped 2 report(s)" in r.getMessage() for r in caplog.records)


def test_an_output_refused_for_other_bytes_becomes_a_fail_instead_of_blocking_the_outbox(
    fake_farm: FarmServer, tmp_path: Path
) -> None:
    farm = fake_farm.farm
    job_id = farm.enqueue("proxy")

    async def scenario() -> None:
        async with FarmClient(fake_farm.url, farm.api_key) as client:
            claim = await _claim(fake_farm, client)
            farm.jobs[job_id].outputs["a.png"] = ("0" * 64, b"other bytes")
            outbox = Outbox(tmp_path / "outbox.db")
            outbox.add(job_id, "outputs", {"lease_id": claim.lease_id, **_output(tmp_path, "a.png", b"A")})
            outbox.add(job_id, "complete", {"lease_id": claim.lease_id, "gpu_seconds": 2.0, "provenance": {}})
            result = await outbox.flush(client)
            assert result.complete and len(outbox) == 0
            outbox.close()

    run(scenario())
    job = farm.jobs[job_id]
    assert job.status == "failed" and job.error is not None and job.error["retryable"] is True
    assert "409" in job.error["error"] and "a.png" in job.error["error"]


def test_flush_stops_at_the_first_unreachable_report_and_keeps_the_rest(tmp_path: Path) -> None:
    async def scenario() -> None:
        outbox = Outbox(tmp_path / "outbox.db")
        outbox.add("job-1", "release", {"lease_id": "l1"})
        outbox.add("job-2", "release", {"lease_id": "l2"})
        async with FarmClient("http://127.0.0.1:9", "aip_x", connect_timeout=0.5) as client:
            result = await outbox.flush(client)
        assert result.unavailable is not None and not result.delivered
        assert [e.job_id for e in outbox.entries()] == ["job-1", "job-2"]
        outbox.close()

    run(scenario())


def test_reports_left_by_a_stopped_agent_are_delivered_first_at_its_next_start(
    fake_farm: FarmServer, tmp_path: Path
) -> None:
    farm = fake_farm.farm
    job_id = farm.enqueue("proxy")
    settings = agent_settings(fake_farm, tmp_path / "agent", None)
    job_dir = tmp_path / "agent" / "jobs" / job_id
    (job_dir / "outputs").mkdir(parents=True)
    stale_dir = tmp_path / "agent" / "jobs" / "stale-job"  # nothing pending: cleaned at start
    stale_dir.mkdir()

    async def scenario() -> None:
        async with FarmClient(fake_farm.url, farm.api_key) as client:
            claim = await _claim(fake_farm, client)  # the previous run of the agent had claimed it
        outbox = Outbox(settings.resolved_outbox_path)
        output = _output(job_dir / "outputs", "proxy.mp4", b"proxy bytes")
        outbox.add(job_id, "outputs", {"lease_id": claim.lease_id, **output})
        outbox.add(job_id, "complete", {"lease_id": claim.lease_id, "gpu_seconds": 0.0, "provenance": {}})
        outbox.close()
        async with started_agent(settings):
            await wait_until(lambda: farm.jobs[job_id].status == "succeeded", what="delivered")
            await wait_until(lambda: not job_dir.exists(), what="job dir removed")
            assert not stale_dir.exists()

    run(scenario())
    kinds = [c.kind for c in farm.calls if c.kind not in ("agent_heartbeat", "file")]
    start = kinds.index("register", 1)  # the agent's own registration
    assert kinds[start : start + 3] == ["register", "outputs", "complete"]
