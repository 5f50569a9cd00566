"""The stand-in speaks the protocol captured from a real ComfyUI 0.3.64 (tests/data/comfyui/)."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from websockets.asyncio.client import connect

from tests.comfyui_standin.fixtures import RunningStandin, running_standin, write_probe_image

DATA = Path(__file__).resolve().parents[1] / "data" / "comfyui"


def captured(name: str) -> Any:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def captured_success_graph() -> dict[str, Any]:
    return next(iter(captured("history_success.json").values()))["prompt"][2]


def captured_error_graph() -> dict[str, Any]:
    return next(iter(captured("execution_error_example.json")["history"].values()))["prompt"][2]


def types_of(messages: list[dict[str, Any]]) -> list[str]:
    return [m["type"] for m in messages if "type" in m]


async def run_and_collect(
    standin: RunningStandin, graph: dict[str, Any], *, during: Any = None
) -> tuple[str, list[dict[str, Any]]]:
    """POST the graph with our own client_id/prompt_id and read every message until executing{null}."""
    client_id, prompt_id = "b5c6cb00-e6cb-4ef1-883a-48dc02f8a106", f"prompt-{len(standin.comfy.history)}"
    messages: list[dict[str, Any]] = []
    async with (
        connect(f"{standin.ws_url}?clientId={client_id}") as ws,
        httpx.AsyncClient(base_url=standin.url) as http,
    ):
        messages.append(json.loads(await ws.recv()))  # status with sid, sent on connect
        body = {"prompt": graph, "client_id": client_id, "prompt_id": prompt_id}
        response = await http.post("/prompt", json=body)
        assert response.status_code == 200, response.text
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), 15))
            messages.append(message)
            if during is not None:
                await during(message, http, prompt_id)
            if message["type"] == "executing" and message["data"]["node"] is None:
                return prompt_id, messages


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 60))


@pytest.fixture(scope="module")
def shared_standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStandin]:
    """One stand-in for the tests that only read from it (validation answers, routes)."""
    with running_standin(tmp_path_factory.mktemp("comfy")) as standin:
        write_probe_image(standin.comfy.input_dir / "probe_first.png")
        yield standin


def test_successful_run_sends_the_captured_message_sequence(comfy_standin: RunningStandin) -> None:
    write_probe_image(comfy_standin.comfy.input_dir / "probe_first.png")
    prompt_id, messages = run(run_and_collect(comfy_standin, captured_success_graph()))

    transcript = captured("ws_transcript_success.json")  # ends at execution_success
    assert types_of(messages) == types_of(transcript) + ["status", "executing"]
    states = [
        {n: s["state"] for n, s in m["data"]["nodes"].items()}
        for m in messages
        if m["type"] == "progress_state"
    ]
    captured_states = [
        {n: s["state"] for n, s in m["data"]["nodes"].items()}
        for m in transcript
        if m["type"] == "progress_state"
    ]
    assert states == captured_states
    executed = next(m["data"] for m in messages if m["type"] == "executed")
    captured_executed = next(m["data"] for m in transcript if m["type"] == "executed")
    assert executed["output"] == captured_executed["output"]
    assert set(executed) == set(captured_executed)
    assert messages[-1]["data"] == {"node": None, "prompt_id": prompt_id}


def test_history_entry_has_the_captured_shape(comfy_standin: RunningStandin) -> None:
    write_probe_image(comfy_standin.comfy.input_dir / "probe_first.png")
    prompt_id, _ = run(run_and_collect(comfy_standin, captured_success_graph()))
    entry = httpx.get(f"{comfy_standin.url}/history/{prompt_id}").json()[prompt_id]

    reference = next(iter(captured("history_success.json").values()))
    assert set(entry) == set(reference)
    assert entry["outputs"] == reference["outputs"]  # mp4 under `images` with animated: [true]
    assert entry["meta"] == reference["meta"]
    assert [kind for kind, _ in entry["status"]["messages"]] == [
        k for k, _ in reference["status"]["messages"]
    ]
    assert entry["prompt"][1:] == [prompt_id, reference["prompt"][2], entry["prompt"][3], ["5"]]
    mp4 = comfy_standin.comfy.output_dir / "probe" / "shot_00001_.mp4"
    assert mp4.read_bytes()[4:8] == b"ftyp"


def test_odd_frame_size_fails_at_run_time_like_the_captured_error(comfy_standin: RunningStandin) -> None:
    write_probe_image(comfy_standin.comfy.input_dir / "probe_first.png")
    run(run_and_collect(comfy_standin, captured_success_graph()))  # caches LoadImage, as in the capture
    prompt_id, messages = run(run_and_collect(comfy_standin, captured_error_graph()))

    reference = captured("execution_error_example.json")
    assert types_of(messages) == types_of(reference["ws"]) + ["status", "executing"]
    error = next(m["data"] for m in messages if m["type"] == "execution_error")
    expected = next(m["data"] for m in reference["ws"] if m["type"] == "execution_error")
    assert set(error) == set(expected)
    for key in ("node_id", "node_type", "executed", "exception_type", "exception_message"):
        assert error[key] == expected[key], key
    entry = httpx.get(f"{comfy_standin.url}/history/{prompt_id}").json()[prompt_id]
    ref_entry = next(iter(reference["history"].values()))
    assert entry["outputs"] == {} and entry["meta"] == {}
    assert entry["status"]["status_str"] == "error" and entry["status"]["completed"] is False
    assert [k for k, _ in entry["status"]["messages"]] == [k for k, _ in ref_entry["status"]["messages"]]


def test_interrupt_lands_at_the_next_node_boundary_like_the_capture(tmp_path: Path) -> None:
    graph = copy.deepcopy(captured_success_graph())
    graph["6"] = {"class_type": "ImageInvert", "inputs": {"image": ["3", 0]}}  # stands in for the slow blur
    graph["4"]["inputs"]["images"] = ["6", 0]
    graph = {k: graph[k] for k in ("1", "2", "3", "6", "4", "5")}

    async def interrupt_while_6_runs(
        message: dict[str, Any], http: httpx.AsyncClient, prompt_id: str
    ) -> None:
        if message["type"] == "executing" and message["data"]["node"] == "6":
            assert (await http.post("/interrupt", json={"prompt_id": prompt_id})).status_code == 200

    with running_standin(tmp_path, node_delay=0.3, progress_steps=0) as standin:
        write_probe_image(standin.comfy.input_dir / "probe_first.png")
        prompt_id, messages = run(run_and_collect(standin, graph, during=interrupt_while_6_runs))
        entry = httpx.get(f"{standin.url}/history/{prompt_id}").json()[prompt_id]

    reference = captured("interrupt_example.json")
    note = next(i for i, m in enumerate(reference["ws"]) if "_client_note" in m)
    after_interrupt = messages[[m["data"].get("node") for m in messages].index("6") + 1 :]
    assert types_of(after_interrupt) == types_of(reference["ws"][note + 1 :])
    interrupted = next(m["data"] for m in messages if m["type"] == "execution_interrupted")
    expected = next(m["data"] for m in reference["ws"] if m.get("type") == "execution_interrupted")
    assert set(interrupted) == set(expected)
    assert (interrupted["node_id"], interrupted["node_type"]) == ("4", "CreateVideo")
    assert interrupted["executed"] == ["6", "3", "2", "1"]
    assert entry["status"]["messages"][-1][0] == "execution_interrupted"
    assert entry["status"]["status_str"] == "error"


@pytest.mark.parametrize(
    ("change", "node_id", "error_type", "details"),
    [
        (
            lambda g: g["2"]["inputs"].update(upscale_method="bogus"),
            "2",
            "value_not_in_list",
            "upscale_method: 'bogus'",
        ),
        (lambda g: g["2"]["inputs"].update(width=99999), "2", "value_bigger_than_max", "width"),
        (lambda g: g["2"]["inputs"].pop("crop"), "2", "required_input_missing", "crop"),
        (
            lambda g: g["1"]["inputs"].update(image="does_not_exist.png"),
            "1",
            "custom_validation_failed",
            "image - ",
        ),
        (
            lambda g: g["5"]["inputs"].update(video=["3", 0]),
            "5",
            "return_type_mismatch",
            "video, received_type(IMAGE)",
        ),
    ],
)
def test_invalid_prompt_is_refused_with_comfyui_error_shape(
    shared_standin: RunningStandin, change: Any, node_id: str, error_type: str, details: str
) -> None:
    graph = copy.deepcopy(captured_success_graph())
    change(graph)
    response = httpx.post(f"{shared_standin.url}/prompt", json={"prompt": graph})

    assert response.status_code == 400
    body = response.json()
    assert body["error"]["type"] == "prompt_outputs_failed_validation"
    assert set(body["error"]) == {"type", "message", "details", "extra_info"}
    entry = body["node_errors"][node_id]
    assert set(entry) == {"errors", "dependent_outputs", "class_type"}
    assert entry["class_type"] == graph[node_id]["class_type"] and entry["dependent_outputs"] == ["5"]
    assert entry["errors"][0]["type"] == error_type
    assert entry["errors"][0]["details"].startswith(details)
    assert set(entry["errors"][0]) == {"type", "message", "details", "extra_info"}


def test_unknown_class_and_graph_without_outputs_are_refused_like_comfyui(
    shared_standin: RunningStandin,
) -> None:
    def post(graph: dict[str, Any]) -> httpx.Response:
        return httpx.post(f"{shared_standin.url}/prompt", json={"prompt": graph})

    unknown = post({"1": {"class_type": "NoSuchNode", "inputs": {}}})
    no_output = post({"1": {"class_type": "EmptyImage", "inputs": {}}})

    assert unknown.status_code == 400 and no_output.status_code == 400
    assert unknown.json() == {
        "error": {
            "type": "invalid_prompt",
            "message": "Cannot execute because node NoSuchNode does not exist.",
            "details": "Node ID '#1'",
            "extra_info": {},
        },
        "node_errors": {},
    }
    assert no_output.json()["error"]["type"] == "prompt_no_outputs"


def test_every_route_is_served_plain_and_under_the_api_prefix(shared_standin: RunningStandin) -> None:
    with httpx.Client(base_url=shared_standin.url) as http:
        for path in ("/prompt", "/queue", "/history", "/system_stats", "/object_info/SaveVideo", "/features"):
            plain, prefixed = http.get(path), http.get("/api" + path)
            assert plain.status_code == prefixed.status_code == 200, path
            assert plain.json() == prefixed.json(), path
        assert http.get("/api/jobs").status_code == 404  # 0.3.64 has no jobs API

    async def api_ws() -> dict[str, Any]:
        async with connect(shared_standin.url.replace("http", "ws") + "/api/ws?clientId=x") as ws:
            return json.loads(await ws.recv())

    assert run(api_ws())["data"]["sid"] == "x"


def test_upload_keeps_different_bytes_under_a_new_name_unless_overwrite(
    comfy_standin: RunningStandin,
) -> None:
    def upload(data: bytes, **form: str) -> dict[str, Any]:
        files = {"image": ("probe.png", data, "image/png")}
        return httpx.post(f"{comfy_standin.url}/upload/image", files=files, data=form).json()

    first = upload(b"one", subfolder="probe")
    same = upload(b"one", subfolder="probe")
    other = upload(b"two", subfolder="probe")
    replaced = upload(b"three", subfolder="probe", overwrite="true")

    assert first == same == replaced == {"name": "probe.png", "subfolder": "probe", "type": "input"}
    assert other["name"] == "probe (1).png"
    assert (comfy_standin.comfy.input_dir / "probe" / "probe.png").read_bytes() == b"three"


def test_view_refuses_paths_outside_its_folders(comfy_standin: RunningStandin) -> None:
    (comfy_standin.comfy.output_dir / "a.txt").write_text("x")

    def view(**params: str) -> int:
        return httpx.get(f"{comfy_standin.url}/view", params=params).status_code

    assert view(filename="a.txt") == 200
    assert view(filename="../a.txt") == 400
    assert view(filename="a.txt", subfolder="../../") == 403
    assert view(filename="missing.txt") == 404


def test_weightless_image_nodes_really_run_and_save_pngs(comfy_standin: RunningStandin) -> None:
    graph = {
        "1": {
            "class_type": "EmptyImage",
            "inputs": {"width": 64, "height": 48, "batch_size": 2, "color": 0x00FF00},
        },
        "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
        "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "probe/img"}},
    }
    prompt_id, messages = run(run_and_collect(comfy_standin, graph))
    entry = httpx.get(f"{comfy_standin.url}/history/{prompt_id}").json()[prompt_id]

    names = ["img_00001_.png", "img_00002_.png"]
    assert entry["outputs"] == {
        "3": {"images": [{"filename": n, "subfolder": "probe", "type": "output"} for n in names]}
    }
    with Image.open(comfy_standin.comfy.output_dir / "probe" / names[1]) as png:
        assert (png.size, png.getpixel((0, 0))) == ((64, 48), (255, 0, 255))
        assert json.loads(png.text["prompt"]) == graph
    view = httpx.get(
        f"{comfy_standin.url}/view", params={"filename": names[0], "subfolder": "probe", "type": "output"}
    )
    assert view.headers["content-type"] == "image/png" and view.content.startswith(b"\x89PNG")
