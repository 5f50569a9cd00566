"""The agent against the FakeFarm (test double of our server) and the ComfyUI stand-in, both on loopback."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import signal
from pathlib import Path

import av
from PIL import Image

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
from tests.comfyui_standin.fixtures import RunningStandin, running_standin, write_probe_image


def test_cpu_workflow_job_runs_end_to_end_and_is_completed_with_provenance(
    fake_farm: FarmServer, tmp_path: Path
) -> None:
    job_id, png = enqueue_cpu_workflow(fake_farm, tmp_path)

    async def scenario(comfy: RunningStandin) -> None:
        settings = agent_settings(fake_farm, tmp_path / "agent", comfy.url)
        async with started_agent(settings) as running:
            await wait_until(lambda: fake_farm.farm.jobs[job_id].status == "succeeded", what="job succeeded")
            await wait_until(
                lambda: not (tmp_path / "agent" / "jobs" / job_id).exists(), what="job dir removed"
            )
            assert len(running.outbox) == 0

    with running_standin(tmp_path / "comfy", node_delay=0.15, progress_steps=3) as comfy:
        run(scenario(comfy))
        uploaded = list((comfy.comfy.input_dir / "aipipe").rglob("first_frame.png"))

    farm = fake_farm.farm
    job = farm.jobs[job_id]
    register = next(c for c in farm.calls if c.kind == "register").body
    assert register["gpus"] == [] and "NVML" in register["gpu_error"]  # this host has no GPU: said so
    assert "i2v" in register["job_types"] and "transcode" in register["job_types"]
    # the input was downloaded from the farm, checked, and uploaded to ComfyUI where the graph reads it
    assert [c.body["path"] for c in farm.calls if c.kind == "file"] == [job.inputs[0]["url"]]
    assert len(uploaded) == 1 and uploaded[0].read_bytes() == png
    # progress heartbeats came while ComfyUI ran, then the outputs, then complete
    kinds = farm.kinds(job_id)
    assert kinds[0] == "claim" and kinds[-2:] == ["outputs", "complete"]
    assert set(kinds[1:-2]) == {"job_heartbeat"}
    assert kinds.count("job_heartbeat") >= 3
    stages = [stage for _, stage in job.progress]
    assert any("RepeatImageBatch (node 3)" in s for s in stages)
    fractions = [p for p, _ in job.progress]
    assert fractions == sorted(fractions) and 0 < max(fractions) <= 1
    # one mp4, stored with the sha256 of its bytes, really 12 frames of 160x90
    [(name, (sha, data))] = job.outputs.items()
    assert name.endswith(".mp4") and sha == hashlib.sha256(data).hexdigest()
    assert next(c for c in farm.calls if c.kind == "outputs").body["sha256"] == [sha]
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        assert sum(1 for _ in container.decode(stream)) == 12
        assert (stream.codec_context.width, stream.codec_context.height) == (160, 90)
    result = job.result
    assert result is not None and 0 < result["gpu_seconds"] < 30
    provenance = result["provenance"]
    assert provenance["models"] == [] and provenance["comfyui_version"] == "0.3.64"
    assert len(provenance["comfyui_prompt_id"]) == 36


def test_validation_error_is_reported_as_non_retryable_fail_naming_node_and_input(
    fake_farm: FarmServer, tmp_path: Path
) -> None:
    job_id, _ = enqueue_cpu_workflow(fake_farm, tmp_path)
    fake_farm.farm.jobs[job_id].graph["2"]["inputs"]["upscale_method"] = "sideways"  # type: ignore[index]

    async def scenario(comfy: RunningStandin) -> None:
        async with started_agent(agent_settings(fake_farm, tmp_path / "agent", comfy.url)):
            await wait_until(lambda: fake_farm.farm.jobs[job_id].status == "failed", what="job failed")

    with running_standin(tmp_path / "comfy") as comfy:
        run(scenario(comfy))

    error = fake_farm.farm.jobs[job_id].error
    assert error is not None and error["retryable"] is False
    assert error["kind"] == "input"  # the same graph fails on every agent: the job fails at once
    assert error["error"].startswith("ComfyUI: ")
    assert "node 2 (ImageScale)" in error["error"] and "upscale_method" in error["error"]
    assert "outputs" not in fake_farm.farm.kinds(job_id)


def test_cancel_from_the_server_interrupts_comfyui_and_releases_the_job(
    fake_farm: FarmServer, tmp_path: Path
) -> None:
    job_id, _ = enqueue_cpu_workflow(fake_farm, tmp_path)

    async def scenario(comfy: RunningStandin) -> None:
        async with started_agent(agent_settings(fake_farm, tmp_path / "agent", comfy.url)) as running:
            await wait_until(lambda: progress_seen(fake_farm, job_id), what="progress")
            fake_farm.farm.cancel(job_id)
            await wait_until(lambda: fake_farm.farm.jobs[job_id].status == "cancelled", what="released")
            await wait_until(lambda: not comfy.comfy.history or _interrupted(comfy), what="ComfyUI stopped")
            claims = fake_farm.farm.kinds().count("claim")
            await wait_until(lambda: fake_farm.farm.kinds().count("claim") > claims, what="claiming again")
            assert running.agent.current is None

    with running_standin(tmp_path / "comfy", node_delay=1.0, progress_steps=10) as comfy:
        run(scenario(comfy))
        assert comfy.comfy.requested("POST", "/interrupt") >= 1
        assert comfy.comfy._running is None and not comfy.comfy._pending
        assert not list(comfy.comfy.output_dir.rglob("*.mp4"))

    kinds = fake_farm.farm.kinds(job_id)
    assert kinds[-1] == "release" and "outputs" not in kinds and "complete" not in kinds


def _interrupted(comfy: RunningStandin) -> bool:
    return any(
        kind == "execution_interrupted"
        for entry in comfy.comfy.history.values()
        for kind, _ in entry["status"]["messages"]
    )


def test_lease_lost_stops_the_run_and_drops_everything_for_the_job(
    fake_farm: FarmServer, tmp_path: Path
) -> None:
    job_id, _ = enqueue_cpu_workflow(fake_farm, tmp_path)
    job_dir = tmp_path / "agent" / "jobs" / job_id

    async def scenario(comfy: RunningStandin) -> None:
        async with started_agent(agent_settings(fake_farm, tmp_path / "agent", comfy.url)) as running:
            await wait_until(lambda: progress_seen(fake_farm, job_id), what="progress")
            assert job_dir.exists()
            before = len(fake_farm.farm.calls)
            fake_farm.farm.expire_lease(job_id)
            # The agent hears it from its watch on the job (at once) or at its next heartbeat.
            await wait_until(lambda: running.agent.current is None, what="job dropped")
            await asyncio.sleep(0.3)  # a few heartbeat periods: nothing more may be said about the job
            assert len(running.outbox) == 0 and not job_dir.exists()
            after = [c for c in fake_farm.farm.calls[before:] if c.job_id == job_id]
            assert all(c.kind == "job_heartbeat" and c.status == 409 for c in after), after

    with running_standin(tmp_path / "comfy", node_delay=1.0, progress_steps=10) as comfy:
        run(scenario(comfy))
        assert comfy.comfy.requested("POST", "/interrupt") >= 1

    calls = [c for c in fake_farm.farm.calls if c.job_id == job_id and c.kind != "claim"]
    assert {c.kind for c in calls} == {"job_heartbeat"}  # no output, complete, fail or release


def test_sigterm_in_release_mode_cancels_the_run_releases_and_exits(
    fake_farm: FarmServer, tmp_path: Path
) -> None:
    job_id, _ = enqueue_cpu_workflow(fake_farm, tmp_path)

    async def scenario(comfy: RunningStandin) -> int:
        settings = agent_settings(fake_farm, tmp_path / "agent", comfy.url, on_sigterm="release")
        async with started_agent(settings) as running:
            await wait_until(lambda: progress_seen(fake_farm, job_id), what="progress")
            os.kill(os.getpid(), signal.SIGTERM)  # the agent's loop handles it; pytest never sees it
            return await asyncio.wait_for(asyncio.shield(running.task), 10)

    with running_standin(tmp_path / "comfy", node_delay=1.0, progress_steps=10) as comfy:
        assert run(scenario(comfy)) == 0
        assert comfy.comfy.requested("POST", "/interrupt") >= 1

    assert fake_farm.farm.jobs[job_id].status == "queued"  # given back without blame
    assert fake_farm.farm.kinds(job_id)[-1] == "release"


def test_finish_mode_finishes_the_current_job_then_exits_without_claiming(
    fake_farm: FarmServer, tmp_path: Path
) -> None:
    job_id, _ = enqueue_cpu_workflow(fake_farm, tmp_path)
    second, _ = enqueue_cpu_workflow(fake_farm, tmp_path)

    async def scenario(comfy: RunningStandin) -> int:
        settings = agent_settings(fake_farm, tmp_path / "agent", comfy.url, on_sigterm="finish")
        async with started_agent(settings) as running:
            await wait_until(lambda: progress_seen(fake_farm, job_id), what="progress")
            running.agent.request_stop("finish")
            return await asyncio.wait_for(asyncio.shield(running.task), 15)

    with running_standin(tmp_path / "comfy", node_delay=0.1, progress_steps=2) as comfy:
        assert run(scenario(comfy)) == 0

    assert fake_farm.farm.jobs[job_id].status == "succeeded"
    assert fake_farm.farm.jobs[second].status == "queued" and not fake_farm.farm.kinds(second)


def test_drain_stops_claiming_and_a_transcode_job_runs_with_ffmpeg_after_undrain(
    fake_farm: FarmServer, tmp_path: Path
) -> None:
    farm = fake_farm.farm
    url, sha = farm.add_file("plate.png", write_probe_image(tmp_path / "plate.png", (320, 180)).read_bytes())
    farm.drain("test-agent")

    async def scenario() -> None:
        async with started_agent(agent_settings(fake_farm, tmp_path / "agent", None)) as running:
            await wait_until(lambda: running.agent.draining, what="drained")
            await asyncio.sleep(0.6)  # any claim in flight when the drain came has returned by now
            claims = farm.kinds().count("claim")
            params = {
                "input_url": url,
                "input_sha256": sha,
                "args": ["-vf", "scale=64:36"],
                "output_name": "p.jpg",
            }
            job_id = farm.enqueue("proxy", params=params)
            await asyncio.sleep(0.5)
            assert farm.kinds().count("claim") == claims and farm.jobs[job_id].status == "queued"
            farm.drain("test-agent", on=False)
            await wait_until(lambda: farm.jobs[job_id].status == "succeeded", what="proxy done")

    run(scenario())
    [job] = [j for j in farm.jobs.values() if j.type == "proxy"]
    [(name, (_, data))] = job.outputs.items()
    assert name == "p.jpg" and Image.open(io.BytesIO(data)).size == (64, 36)
    assert job.result is not None and job.result["gpu_seconds"] == 0.0
    assert job.result["provenance"]["args"] == ["-vf", "scale=64:36"]


def test_bad_ffmpeg_arguments_fail_the_job_for_good_with_ffmpegs_message(
    fake_farm: FarmServer, tmp_path: Path
) -> None:
    farm = fake_farm.farm
    url, _ = farm.add_file("plate.png", write_probe_image(tmp_path / "plate.png").read_bytes())
    job_id = farm.enqueue("transcode", params={"input_url": url, "args": ["-vf", "nosuchfilter"]})

    async def scenario() -> None:
        async with started_agent(agent_settings(fake_farm, tmp_path / "agent", None)):
            await wait_until(lambda: farm.jobs[job_id].status == "failed", what="failed")

    run(scenario())
    error = farm.jobs[job_id].error
    assert error is not None and error["retryable"] is False
    assert "ffmpeg exited" in error["error"] and "nosuchfilter" in error["error"]


def test_an_input_whose_sha256_does_not_match_fails_the_job_naming_the_input(
    fake_farm: FarmServer, tmp_path: Path
) -> None:
    job_id, _ = enqueue_cpu_workflow(fake_farm, tmp_path)
    fake_farm.farm.jobs[job_id].inputs[0]["sha256"] = "0" * 64

    async def scenario(comfy: RunningStandin) -> None:
        settings = agent_settings(fake_farm, tmp_path / "agent", comfy.url, download_attempts=2)
        async with started_agent(settings):
            await wait_until(lambda: fake_farm.farm.jobs[job_id].status == "failed", what="failed")

    with running_standin(tmp_path / "comfy") as comfy:
        run(scenario(comfy))
        assert comfy.comfy.requested("POST", "/prompt") == 0

    error = fake_farm.farm.jobs[job_id].error
    assert error is not None and "first_frame.png" in error["error"] and "sha256" in error["error"]
