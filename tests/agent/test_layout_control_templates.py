"""Issue 15's templates on the stand-in's real HTTP API: Lotus depth from a picture (near = white, fixed by
the picture), and the Wan control-video renders (the output has the template's `length` frames at its fps,
each frame following its control frame; a control video missing from the input folder is refused like
ComfyUI's LoadVideo does). Also their sidecars: roles, rules and what they bind."""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import pytest
from PIL import Image

from aipipe_shared.workflows import INPUT_FILE_ROLES, bind, check_params, load_template
from tests.comfyui_standin.fixtures import RunningStandin, running_standin
from tests.support.pictures import depth_sweep_mp4, gradient

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
CONTROL_TEMPLATES = ("wan22_14b_fun_control", "wan21_vace_14b_control")
SIZE = (96, 64)


def template(name: str) -> Any:
    return load_template(WORKFLOWS / f"{name}.json")


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStandin]:
    models = {m for n in ("lotus_depth", *CONTROL_TEMPLATES) for m in template(n).meta.models}
    with running_standin(tmp_path_factory.mktemp("comfy"), models=sorted(models)) as running:
        folder = running.comfy.input_dir
        gradient(SIZE).save(folder / "first.png")
        (folder / "layout_depth.mp4").write_bytes(depth_sweep_mp4(frames=25, fps=16, size=SIZE))
        yield running


def run(standin: RunningStandin, graph: dict[str, Any]) -> list[dict[str, Any]]:
    """POST /prompt, wait for its history; the output files' entries (or the prompt's error)."""
    prompt_id = str(uuid.uuid4())
    with httpx.Client(base_url=standin.url, timeout=30) as http:
        answer = http.post("/prompt", json={"prompt": graph, "prompt_id": prompt_id})
        if answer.status_code != 200:
            raise AssertionError(answer.json())
        deadline = time.monotonic() + 60
        while not (entry := http.get(f"/history/{prompt_id}").json()):
            assert time.monotonic() < deadline, "the prompt did not finish"
            time.sleep(0.05)
    item = entry[prompt_id]
    assert item["status"]["status_str"] == "success", item["status"]
    return next(iter(item["outputs"].values()))["images"]


def fetch(standin: RunningStandin, entry: dict[str, Any]) -> bytes:
    with httpx.Client(base_url=standin.url, timeout=30) as http:
        return http.get("/view", params=entry).content


def test_the_sidecars_declare_the_layout_roles() -> None:
    assert "control_video" in INPUT_FILE_ROLES
    lotus = template("lotus_depth")
    assert lotus.meta.job_type == "depth" and lotus.meta.media_kind == "image"
    assert lotus.roles == {"image", "filename_prefix"} and lotus.meta.take_operation is None
    for name in CONTROL_TEMPLATES:
        t = template(name)
        assert {"image", "control_video", "length", "fps", "width", "height"} <= t.roles, name
        assert t.meta.job_type == "i2v" and t.meta.control is not None and t.meta.control.kind == "depth"
        fps_node, fps_input = t.meta.bindings["fps"][0]
        assert t.graph[fps_node]["inputs"][fps_input] == 16  # Wan 14B's rate: the playblast must match
        with pytest.raises(ValueError, match="control_video"):
            bind(t, {"image": "first.png"})  # the control video is an uploaded input, never the placeholder
        bad = bind(t, {"image": "a.png", "control_video": "b.mp4", "length": 24})
        assert [role for role, _ in check_params(t, bad)] == ["length"]
    vace = bind(
        template("wan21_vace_14b_control"), {"image": "a", "control_video": "b", "control_strength": 0.4}
    )
    assert vace["49"]["inputs"]["strength"] == 0.4


def test_lotus_depth_makes_near_white_and_is_fixed_by_the_picture(standin: RunningStandin) -> None:
    graph = bind(template("lotus_depth"), {"image": "first.png", "filename_prefix": "aipipe/depth_test"})
    [entry] = run(standin, graph)
    depth = Image.open(io.BytesIO(fetch(standin, entry))).convert("L")
    assert depth.size == SIZE
    values = np.asarray(depth, dtype=np.float64)
    # The bottom of the picture is near (white after the template's ImageInvert), the top far (dark).
    assert values[-8:].mean() > values[:8].mean() + 100
    [again] = run(standin, graph)
    assert fetch(standin, again) == fetch(standin, entry)


@pytest.mark.parametrize("name", CONTROL_TEMPLATES)
def test_a_control_video_render_has_the_templates_length_and_follows_each_control_frame(
    standin: RunningStandin, name: str
) -> None:
    params = {
        "image": "first.png",
        "control_video": "layout_depth.mp4",
        "width": SIZE[0],
        "height": SIZE[1],
        "length": 21,  # the control clip has 25 frames: cut to 21
        "seed": 5,
        "filename_prefix": f"aipipe/{name}",
    }
    if name == "wan21_vace_14b_control":
        params["control_strength"] = 1.0
    [entry] = run(standin, bind(template(name), params))
    with av.open(io.BytesIO(fetch(standin, entry))) as container:
        stream = container.streams.video[0]
        assert stream.average_rate == 16
        frames = [f.to_ndarray(format="gray").astype(np.float64) for f in container.decode(stream)]
    assert len(frames) == 21 and frames[0].shape == (SIZE[1], SIZE[0])
    # The bright bar of the control video moves left to right: so does the render's brightest column.
    first, last = (int(np.argmax(f.mean(axis=0))) for f in (frames[0], frames[-1]))
    assert first < SIZE[0] // 3 and last > SIZE[0] // 2


def test_a_control_video_missing_from_the_input_folder_is_refused_like_comfyui(
    standin: RunningStandin,
) -> None:
    graph = bind(template("wan22_14b_fun_control"), {"image": "first.png", "control_video": "nowhere.mp4"})
    with pytest.raises(AssertionError, match="Invalid video file"):
        run(standin, graph)
