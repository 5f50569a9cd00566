"""The ComfyUI client against the stand-in on loopback: real runs, progress, failures, cancel, fallback."""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import av
import httpx
import pytest

from aipipe_shared.workflows import WorkflowTemplate, bind, load_template
from render_agent.comfyui import (
    ComfyClient,
    ComfyExecutionError,
    ComfyInterrupted,
    ComfyJobLost,
    ComfyTimeout,
    ComfyValidationError,
)
from render_agent.comfyui_messages import Preview, output_files, parse_preview
from tests.comfyui_standin.fixtures import RunningStandin, running_standin, write_probe_image

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "comfyui"
FAST = {"poll_interval": 0.1, "connect_timeout": 5.0, "reconnect_min_delay": 0.1, "reconnect_max_delay": 0.5}


@pytest.fixture(scope="module")
def cpu_template() -> WorkflowTemplate:
    return load_template(ROOT / "workflows" / "cpu_test_still_video.json")


def run(coro: Awaitable[Any], timeout: float = 30) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def cpu_graph(
    client: ComfyClient, template: WorkflowTemplate, tmp_path: Path, **params: Any
) -> dict[str, Any]:
    name = await client.upload_file(write_probe_image(tmp_path / "first.png"), subfolder="job")
    return bind(template, {"image": name, "width": 160, "height": 90, "length": 12, "fps": 12.0, **params})


async def wait_until(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


def test_cpu_template_runs_end_to_end_and_the_mp4_has_the_requested_frames(
    comfy_standin: RunningStandin, cpu_template: WorkflowTemplate, tmp_path: Path
) -> None:
    async def scenario() -> Any:
        async with ComfyClient(comfy_standin.url, **FAST) as client:
            graph = await cpu_graph(client, cpu_template, tmp_path, length=12, fps=12.0)
            return await client.run(graph, tmp_path / "out", output_nodes=cpu_template.meta.outputs)

    result = run(scenario())

    assert [f.node_id for f in result.files] == ["5"]
    video = result.files[0]
    assert video.animated and video.path.suffix == ".mp4" and video.path.parent == tmp_path / "out"
    with av.open(str(video.path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        assert (frames, stream.codec_context.width, stream.codec_context.height) == (12, 160, 90)
        assert stream.codec_context.name == "h264" and float(stream.average_rate) == 12.0
    assert comfy_standin.comfy.history == {}  # the history entry was deleted after download
    assert comfy_standin.comfy.requested("POST", "/history") == 1


def test_progress_callback_reports_rising_fractions_and_stage_text(
    tmp_path: Path, cpu_template: WorkflowTemplate
) -> None:
    reports: list[tuple[float, str]] = []

    async def on_progress(fraction: float, stage: str) -> None:  # async callbacks are awaited
        reports.append((fraction, stage))

    async def scenario() -> None:
        async with ComfyClient(standin.url, **FAST) as client:
            graph = await cpu_graph(client, cpu_template, tmp_path)
            await client.run(graph, tmp_path / "out", on_progress=on_progress)

    with running_standin(
        tmp_path / "comfy", node_delay=0.04, progress_steps=2, send_previews=True
    ) as standin:
        run(scenario())

    fractions = [f for f, _ in reports]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and 0 < fractions[len(fractions) // 2] < 1
    assert all(f < 1.0 for f in fractions[:-1])
    stages = [s for _, s in reports]
    assert "SaveVideo (node 5)" in stages and "ImageScale (node 2) 1/2" in stages and stages[-1] == "finished"


def test_refused_graph_raises_validation_error_naming_node_and_input(
    comfy_standin: RunningStandin, cpu_template: WorkflowTemplate, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with ComfyClient(comfy_standin.url, **FAST) as client:
            graph = await cpu_graph(client, cpu_template, tmp_path)
            graph["2"]["inputs"]["upscale_method"] = "bogus"
            await client.run(graph, tmp_path / "out")

    with pytest.raises(ComfyValidationError) as caught:
        run(scenario())

    problem = caught.value.problems[0]
    assert (problem.node_id, problem.class_type, problem.input_name) == ("2", "ImageScale", "upscale_method")
    assert problem.type == "value_not_in_list"
    assert "node 2 (ImageScale) input 'upscale_method'" in str(caught.value)


def test_unknown_node_class_is_refused_naming_the_node(comfy_standin: RunningStandin, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with ComfyClient(comfy_standin.url, **FAST) as client:
            await client.submit({"7": {"class_type": "RIFE VFI", "inputs": {}}})

    with pytest.raises(ComfyValidationError) as caught:
        run(scenario())

    problem = caught.value.problems[0]
    assert (problem.node_id, problem.class_type, problem.type) == ("7", "RIFE VFI", "invalid_prompt")


def test_partially_accepted_graph_is_refused_and_stopped(
    tmp_path: Path, cpu_template: WorkflowTemplate
) -> None:
    async def scenario() -> None:
        async with ComfyClient(standin.url, **FAST) as client:
            graph = await cpu_graph(client, cpu_template, tmp_path)
            graph["9"] = {"class_type": "SaveImage", "inputs": {"images": ["4", 0], "filename_prefix": "x"}}
            await client.submit(graph)

    with running_standin(tmp_path / "comfy", node_delay=0.2) as standin:
        with pytest.raises(ComfyValidationError) as caught:
            run(scenario())
        idle = {"queue_running": [], "queue_pending": []}
        run(wait_until(lambda: httpx.get(f"{standin.url}/queue").json() == idle))
        outcomes = [entry["status"]["status_str"] for entry in standin.comfy.history.values()]

    assert caught.value.partially_accepted
    assert caught.value.problems[0].node_id == "9" and caught.value.problems[0].input_name == "images"
    assert "success" not in outcomes  # the valid part was stopped (interrupted, or dequeued before it ran)


def test_execution_error_names_the_failing_node(
    comfy_standin: RunningStandin, cpu_template: WorkflowTemplate, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with ComfyClient(comfy_standin.url, **FAST) as client:
            graph = await cpu_graph(client, cpu_template, tmp_path, width=161, height=91)  # odd: h264 refuses
            await client.run(graph, tmp_path / "out")

    with pytest.raises(ComfyExecutionError) as caught:
        run(scenario())

    error = caught.value
    assert (error.node_id, error.node_type, error.exception_type) == (
        "5",
        "SaveVideo",
        "av.error.ExternalError",
    )
    assert "avcodec_open2" in error.exception_message and "node 5 (SaveVideo)" in str(error)
    assert comfy_standin.comfy.history == {}  # deleted even after a failure


def test_cancel_interrupts_a_running_prompt(tmp_path: Path, cpu_template: WorkflowTemplate) -> None:
    async def scenario() -> None:
        async with ComfyClient(standin.url, **FAST) as client:
            graph = await cpu_graph(client, cpu_template, tmp_path)
            started = asyncio.Event()
            prompt_id = await client.submit(
                graph, on_progress=lambda f, s: started.set() if "node 2" in s else None
            )
            waiter = asyncio.create_task(client.wait(prompt_id))
            await asyncio.wait_for(started.wait(), 10)
            await client.cancel(prompt_id)
            await waiter

    with (
        running_standin(tmp_path / "comfy", node_delay=0.3, progress_steps=3) as standin,
        pytest.raises(ComfyInterrupted) as caught,
    ):
        run(scenario())

    assert caught.value.node_id in {"2", "3"} and caught.value.node_type in {"ImageScale", "RepeatImageBatch"}
    assert standin.comfy.requested("POST", "/queue") == standin.comfy.requested("POST", "/interrupt") == 1


def test_cancel_removes_a_pending_prompt_that_then_never_runs(
    tmp_path: Path, cpu_template: WorkflowTemplate
) -> None:
    async def scenario() -> tuple[str, BaseException | None]:
        async with ComfyClient(standin.url, **FAST) as client:
            graph = await cpu_graph(client, cpu_template, tmp_path)
            running = await client.submit(graph)
            pending = await client.submit(copy.deepcopy(graph))
            await client.cancel(pending)
            outcome = await asyncio.gather(client.wait(pending), return_exceptions=True)
            await client.cancel(running)
            return pending, outcome[0]

    with running_standin(tmp_path / "comfy", node_delay=0.3) as standin:
        pending, outcome = run(scenario())

    assert isinstance(outcome, ComfyInterrupted) and "cancelled" in str(outcome)
    assert pending not in standin.comfy.history


def test_websocket_loss_falls_back_to_http_polling_and_still_completes(
    tmp_path: Path, cpu_template: WorkflowTemplate
) -> None:
    async def scenario() -> Any:
        async with ComfyClient(standin.url, **FAST) as client:
            graph = await cpu_graph(client, cpu_template, tmp_path)
            dropped = asyncio.Event()

            def drop_once(fraction: float, stage: str) -> None:
                if "node 2" in stage and not dropped.is_set():
                    dropped.set()
                    standin.comfy.drop_websockets(refuse_for=3.0)  # no events until the prompt is done

            return await client.run(graph, tmp_path / "out", on_progress=drop_once)

    with running_standin(tmp_path / "comfy", node_delay=0.15) as standin:
        result = run(scenario())
        polls = standin.comfy.requested("GET", "/queue"), standin.comfy.requested("GET", "/history/")

    assert result.files and result.files[0].size > 0
    assert polls[0] >= 1 and polls[1] >= 1


def test_client_reconnects_its_websocket_after_a_loss(
    comfy_standin: RunningStandin, cpu_template: WorkflowTemplate, tmp_path: Path
) -> None:
    async def scenario() -> tuple[str, str, Any]:
        async with ComfyClient(comfy_standin.url, **FAST) as client:
            first_id = client.client_id
            comfy_standin.comfy.drop_websockets(refuse_for=0.3)
            await wait_until(lambda: comfy_standin.comfy.ws_connections == 2 and client.connected)
            polls_before = comfy_standin.comfy.requested("GET", "/queue")
            graph = await cpu_graph(client, cpu_template, tmp_path)
            result = await client.run(graph, tmp_path / "out")
            assert comfy_standin.comfy.requested("GET", "/queue") == polls_before  # events, not polling
            return first_id, client.client_id, result

    first_id, second_id, result = run(scenario())

    assert first_id != second_id  # a fresh clientId per connection
    assert result.files


def test_jobs_api_is_polled_when_the_server_offers_it(tmp_path: Path, cpu_template: WorkflowTemplate) -> None:
    async def scenario() -> Any:
        async with ComfyClient(standin.url, **FAST) as client:
            graph = await cpu_graph(client, cpu_template, tmp_path)
            prompt_id = await client.submit(graph)
            standin.comfy.drop_websockets(refuse_for=5.0)
            return await client.wait(prompt_id)

    with running_standin(tmp_path / "comfy", node_delay=0.1, jobs_api=True) as standin:
        entry = run(scenario())
        requested = standin.comfy.requested

    assert entry["status"]["status_str"] == "success" and output_files(entry)
    assert requested("GET", "/jobs/") >= 1 and requested("GET", "/queue") == 0


def test_timeout_cancels_the_prompt(tmp_path: Path, cpu_template: WorkflowTemplate) -> None:
    async def scenario() -> None:
        async with ComfyClient(standin.url, **FAST) as client:
            graph = await cpu_graph(client, cpu_template, tmp_path)
            await client.run(graph, tmp_path / "out", timeout=0.3)

    with running_standin(tmp_path / "comfy", node_delay=1.0) as standin:
        with pytest.raises(ComfyTimeout):
            run(scenario())
        assert standin.comfy.requested("POST", "/interrupt") == 1


def test_prompt_that_vanishes_from_queue_and_history_is_reported_lost(
    tmp_path: Path, cpu_template: WorkflowTemplate
) -> None:
    async def scenario() -> None:
        async with ComfyClient(standin.url, safety_poll_interval=0.1, **FAST) as client:
            graph = await cpu_graph(client, cpu_template, tmp_path)
            await client.submit(graph)  # keeps ComfyUI busy
            pending = await client.submit(copy.deepcopy(graph))
            # Someone else clears the queue: no message tells us, only polling finds out.
            async with httpx.AsyncClient(base_url=standin.url) as other:
                await other.post("/queue", json={"delete": [pending]})
            await client.wait(pending)

    with running_standin(tmp_path / "comfy", node_delay=0.5) as standin, pytest.raises(ComfyJobLost):
        run(scenario())


def test_system_stats_and_object_info_are_fetched(comfy_standin: RunningStandin) -> None:
    async def scenario() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        async with ComfyClient(comfy_standin.url, **FAST) as client:
            return (
                await client.system_stats(),
                await client.object_info(),
                await client.object_info("SaveVideo"),
            )

    stats, everything, one = run(scenario())

    assert stats["system"]["comfyui_version"] == "0.3.64" and stats["devices"][0]["type"] == "cpu"
    assert "WanImageToVideo" in everything and list(one) == ["SaveVideo"]


def test_outputs_are_collected_from_images_gifs_and_videos_keys() -> None:
    captured = next(iter(json.loads((DATA / "history_success.json").read_text()).values()))
    entry = {
        "outputs": {
            **captured["outputs"],
            "7": {
                "gifs": [{"filename": "v.mp4", "subfolder": "", "type": "output", "format": "video/h264-mp4"}]
            },
            "8": {"videos": [{"filename": "w.mp4", "subfolder": "s", "type": "output"}]},
            "9": {"images": [{"filename": "p.png", "subfolder": "", "type": "temp"}]},
            "10": {"text": ["not a file"]},
        }
    }

    files = output_files(entry)

    assert [(f.node_id, f.filename, f.animated) for f in files] == [
        ("5", "shot_00001_.mp4", True),
        ("7", "v.mp4", True),
        ("8", "w.mp4", True),
    ]
    assert [f.filename for f in output_files(entry, ["9"], include_temp=True)] == ["p.png"]


def test_binary_preview_frames_are_read_as_comfyui_sends_them() -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"rest"
    legacy = (1).to_bytes(4, "big") + (2).to_bytes(4, "big") + png
    assert parse_preview(legacy) == Preview("image/png", png)
    meta = json.dumps({"node_id": "3", "prompt_id": "p-1", "image_type": "image/jpeg"}).encode()
    with_meta = (4).to_bytes(4, "big") + len(meta).to_bytes(4, "big") + meta + b"\xff\xd8\xffjpeg"
    assert parse_preview(with_meta) == Preview("image/jpeg", b"\xff\xd8\xffjpeg", "p-1")
    text = (3).to_bytes(4, "big") + (1).to_bytes(4, "big") + b"3progress text"
    assert parse_preview(text) is None  # event 3 is progress text, not an image
    assert parse_preview(b"\x00\x00") is None
    broken_meta = (4).to_bytes(4, "big") + (50).to_bytes(4, "big") + b"{not json"
    assert parse_preview(broken_meta) is None


def test_inputs_are_streamed_to_comfyui_and_outputs_hashed_while_fetched(
    comfy_standin: RunningStandin, cpu_template: WorkflowTemplate, tmp_path: Path
) -> None:
    """The upload (a multipart body the agent streams itself) lands byte for byte, a quote in the name
    included; a fetched output carries the sha256 of what was written, so no second pass is needed."""
    big = tmp_path / 'in "take".bin'
    big.write_bytes(bytes(range(256)) * (3 * 4096 + 7))  # over 3 MiB: several 1 MiB reads

    async def scenario() -> Any:
        async with ComfyClient(comfy_standin.url, **FAST) as client:
            name = await client.upload_file(big, subfolder="job")
            graph = await cpu_graph(client, cpu_template, tmp_path)
            return name, await client.run(graph, tmp_path / "out", output_nodes=cpu_template.meta.outputs)

    name, result = run(scenario())
    assert (comfy_standin.comfy.input_dir / name).read_bytes() == big.read_bytes()
    video = result.files[0]
    assert video.sha256 == hashlib.sha256(video.path.read_bytes()).hexdigest()


def test_a_restarted_agent_removes_only_the_prompts_its_killed_run_left_in_comfyui(
    tmp_path: Path, cpu_template: WorkflowTemplate
) -> None:
    """An agent killed mid-job leaves its prompt running and its next one queued in ComfyUI: the agent's next
    run (same name) interrupts the one and dequeues the other before it queues anything, so the requeued
    job does not wait behind work nobody will fetch; another client's prompt on the same ComfyUI runs on."""

    async def scenario() -> tuple[list[str], str, str, str, list[str]]:
        async with ComfyClient(standin.url, owner="gpu-07", **FAST) as killed:
            graph = await cpu_graph(killed, cpu_template, tmp_path)
            running = await killed.submit(graph)
            pending = await killed.submit(copy.deepcopy(graph))
        async with ComfyClient(standin.url, owner="gpu-08", **FAST) as other:
            others = await other.submit(copy.deepcopy(graph))
        async with ComfyClient(standin.url, owner="gpu-07", **FAST) as restarted:
            dropped = await restarted.drop_left_behind()
        async with httpx.AsyncClient(base_url=standin.url) as http:
            deadline = asyncio.get_running_loop().time() + 20
            while others not in standin.comfy.history or running not in standin.comfy.history:
                assert asyncio.get_running_loop().time() < deadline, "the other client's prompt never ran"
                await asyncio.sleep(0.05)
            queue = (await http.get("/queue")).json()
        listed = [item[1] for item in queue["queue_running"] + queue["queue_pending"]]
        return dropped, running, pending, others, listed

    with running_standin(tmp_path / "comfy", node_delay=0.3) as standin:
        dropped, running, pending, others, listed = run(scenario(), timeout=40)

    assert sorted(dropped) == sorted([running, pending])
    assert listed == []
    assert standin.comfy.history[running]["status"]["status_str"] == "error"  # interrupted, not finished
    assert pending not in standin.comfy.history  # dequeued: never ran
    assert standin.comfy.history[others]["status"]["status_str"] == "success"
    assert standin.comfy.requested("POST", "/interrupt") == 1


def test_a_client_without_an_owner_never_touches_the_queue() -> None:
    client = ComfyClient("http://127.0.0.1:9")  # nothing listens: a request would fail
    assert asyncio.run(client.drop_left_behind()) == []
