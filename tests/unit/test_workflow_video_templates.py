"""Issue 17's video templates and their sidecars: RIFE and ESRGAN say what their output video must be (frames,
fps, size from the input video) and the agent's check computes and compares it; LTX-2 needs ComfyUI 0.8.0's
nodes and SVI 2.0 Pro the KJNodes pack, which the node catalogue an agent reports decides."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import imageio_ffmpeg
import pytest

from aipipe_shared.workflows import (
    TemplateError,
    bind,
    check_params,
    comfyui_too_old,
    graph_model_files,
    load_template,
    note_of,
    validate_template,
)
from render_agent.frame_check import (
    OutputCheckFailed,
    VideoProbe,
    check_outputs,
    derive_values,
    differences,
    expected,
    probe_video,
)
from tests.comfyui_standin.catalogue import KJNODES_CLASSES, LTX2_CLASSES, with_nodes

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / "workflows"
CAPTURED = ROOT / "tests" / "data" / "comfyui" / "object_info.json"
SHOT_ROLES = {"image", "positive", "seed", "width", "height", "length", "fps", "filename_prefix"}


@pytest.fixture(scope="module")
def captured() -> dict[str, Any]:
    return json.loads(CAPTURED.read_text(encoding="utf-8"))


def template(name: str) -> Any:
    return load_template(WORKFLOWS / f"{name}.json")


def copy_with_meta(name: str, folder: Path, **changes: Any) -> Path:
    meta = json.loads((WORKFLOWS / f"{name}.meta.json").read_text(encoding="utf-8"))
    meta.update(changes)
    (folder / f"{name}.json").write_bytes((WORKFLOWS / f"{name}.json").read_bytes())
    (folder / f"{name}.meta.json").write_text(json.dumps(meta), encoding="utf-8")
    return folder / f"{name}.json"


# ---- RIFE and ESRGAN ---------------------------------------------------------------------------
def test_rife_binds_video_factor_and_fps_and_expects_interpolated_frames() -> None:
    rife = template("rife_interpolate_2x")

    assert rife.roles == {"video", "factor", "fps", "filename_prefix"}
    assert rife.meta.custom_nodes[0].package == "ComfyUI-Frame-Interpolation"
    assert rife.meta.custom_node_classes == {"RIFE VFI"} and rife.meta.models == ["rife47.pth"]
    graph = bind(rife, {"video": "clip.mp4", "factor": 3, "fps": 72})
    assert graph["3"]["inputs"]["multiplier"] == 3 and graph["4"]["inputs"]["fps"] == 72.0
    assert graph["4"]["inputs"]["audio"] == ["2", 1]  # the source's sound goes along
    note = note_of(graph)
    assert note == {
        "workflow": "rife_interpolate_2x",
        "expect": {
            "frames": {"from": "video", "multiply": 3, "between": True},
            "fps": {"from": "video", "multiply": 3},
            "size": {"from": "video", "multiply": 1.0},
        },
    }
    assert graph["5"]["_meta"]["aipipe"] == note  # on the output node, beside its title
    assert [role for role, _ in check_params(rife, bind(rife, {"video": "c.mp4", "factor": 9}))] == ["factor"]


def test_rife_derives_its_fps_from_the_source_unless_the_job_gives_it(tmp_path: Path) -> None:
    rife = template("rife_interpolate_2x")
    graph = bind(rife, {"video": "in.mp4", "factor": 3})
    assert note_of(graph)["derive"] == {  # type: ignore[index]
        "fps": {"from": "video", "multiply": 3, "targets": [["4", "fps"]], "int": False}
    }
    source = clip(tmp_path / "in.mp4", 6, 24)

    assert derive_values(graph, {"video": source}) == {"fps": 72.0}
    assert graph["4"]["inputs"]["fps"] == 72.0
    assert "derive" not in note_of(bind(rife, {"video": "in.mp4", "fps": 30}))  # type: ignore[operator]
    with pytest.raises(OutputCheckFailed, match="derived from input 'video'"):
        derive_values(bind(rife, {"video": "in.mp4"}), {})
    with pytest.raises(TemplateError, match=r"derive\.seed"):
        load_template(copy_with_meta("rife_interpolate_2x", tmp_path, derive={"seed": {"from": "video"}}))


def test_esrgan_keeps_frames_fps_and_sound_and_doubles_the_size() -> None:
    esrgan = template("esrgan_upscale_video")

    assert esrgan.roles == {"video", "filename_prefix"} and esrgan.meta.custom_nodes == []
    graph = bind(esrgan, {"video": "clip.mp4"})
    assert graph["20"]["inputs"]["fps"] == ["2", 2] and graph["20"]["inputs"]["audio"] == ["2", 1]
    assert note_of(graph)["expect"] == {  # type: ignore[index]
        "frames": {"from": "video", "multiply": 1.0, "between": False},
        "fps": {"from": "video", "multiply": 1.0},
        "size": {"from": "video", "multiply": 2.0},
    }


def test_templates_without_expectations_are_bound_unchanged() -> None:
    t = template("flux1_dev_t2i")  # an image: nothing for the agent's video check
    graph = bind(t, {"positive": "a lit alley"})
    assert note_of(graph) is None
    assert all(node.get("_meta") == t.graph[n].get("_meta") for n, node in graph.items())


@pytest.mark.parametrize(
    ("expect", "key"),
    [
        ({"frames": {"from": "image", "multiply": 2}}, "expect.frames"),  # not a role it binds
        ({"fps": {"from": "video", "multiply": "seed"}}, "expect.fps"),  # seed is not bound here
        ({"size": {"from": "video", "multiply": 0}}, "expect.size"),
    ],
)
def test_a_bad_expectation_is_refused_naming_its_key(
    expect: dict[str, Any], key: str, tmp_path: Path
) -> None:
    with pytest.raises(TemplateError, match=key.replace(".", r"\.")):
        load_template(copy_with_meta("rife_interpolate_2x", tmp_path, expect=expect))


def test_the_expected_output_follows_rife_and_esrgan() -> None:
    source = VideoProbe(frames=12, fps=24.0, width=64, height=48)
    rife = {"frames": {"multiply": 2, "between": True}, "fps": {"multiply": 2}, "size": {"multiply": 1}}
    esrgan = {"frames": {"multiply": 1}, "fps": {"multiply": 1}, "size": {"multiply": 2}}

    assert expected(rife, source) == {"frames": 23, "fps": 48.0, "size": (64, 48)}  # (n-1)*2+1
    assert expected(esrgan, source) == {"frames": 12, "fps": 24.0, "size": (128, 96)}
    assert expected({"frames": {"multiply": 4, "between": True}}, source) == {"frames": 45}
    ntsc = VideoProbe(frames=49, fps=24000 / 1001, width=64, height=48)
    want = expected(rife, ntsc)
    assert differences(want, VideoProbe(97, 47.952, 64, 48)) == []  # SaveVideo's 1/1000 rate steps
    assert differences(want, VideoProbe(98, 30.0, 64, 47)) == [
        "expected 97 frames, got 98",
        "expected 47.952 fps, got 30.000",
        "expected 64x48, got 64x47",
    ]


def clip(path: Path, frames: int, fps: int, size: str = "64x48") -> Path:
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-v", "error", "-f", "lavfi"]
        + ["-i", f"testsrc2=size={size}:rate={fps}", "-frames:v", str(frames)]
        + ["-c:v", "libx264", "-pix_fmt", "yuv420p", str(path)],
        check=True,
        timeout=60,
    )
    return path


def test_check_outputs_probes_input_and_output_and_names_what_differs(tmp_path: Path) -> None:
    graph = bind(template("rife_interpolate_2x"), {"video": "in.mp4", "factor": 2, "fps": 48})
    source = clip(tmp_path / "in.mp4", 12, 24)
    assert probe_video(source) == VideoProbe(12, 24.0, 64, 48)
    good = clip(tmp_path / "good.mp4", 23, 48)
    bad = clip(tmp_path / "bad.mp4", 24, 48)

    measured = check_outputs(graph, {"video": source}, [good, tmp_path / "thumb.png"])
    assert measured == {
        "input": {"frames": 12, "fps": 24.0, "width": 64, "height": 48},
        "outputs": [{"file": "good.mp4", "frames": 23, "fps": 48.0, "width": 64, "height": 48}],
    }
    with pytest.raises(OutputCheckFailed) as failed:
        check_outputs(graph, {"video": source}, [bad])
    assert str(failed.value) == (
        "output bad.mp4 of workflow 'rife_interpolate_2x': expected 23 frames, got 24 "
        "(input video: 12 frames at 24.000 fps, 64x48)"
    )
    with pytest.raises(OutputCheckFailed, match="does not have"):
        check_outputs(graph, {}, [good])
    with pytest.raises(OutputCheckFailed, match="cannot read not_video.mp4"):
        (tmp_path / "not_video.mp4").write_bytes(b"not a video")
        check_outputs(graph, {"video": source}, [tmp_path / "not_video.mp4"])
    assert check_outputs(bind(template("flux1_dev_t2i"), {"positive": "a"}), {}, [bad]) is None  # no expect


# ---- LTX-2 and SVI 2.0 Pro ----------------------------------------------------------------------
def test_ltx2_needs_comfyui_0_8_and_validates_only_with_its_nodes(captured: dict[str, Any]) -> None:
    ltx2 = template("ltx2_i2v")

    assert ltx2.meta.job_type == "i2v" and ltx2.meta.min_comfyui == "0.8.0" and ltx2.meta.custom_nodes == []
    assert ltx2.roles >= SHOT_ROLES
    assert ltx2.meta.requirements_text == "ComfyUI >= 0.8.0"
    assert not ltx2.meta.runs_on_comfyui("0.3.64") and ltx2.meta.runs_on_comfyui("0.8.1")
    assert graph_model_files(ltx2.graph) == set(ltx2.meta.models)
    old = validate_template(ltx2, captured)
    assert {e.class_type for e in old.errors if e.kind == "unknown_class"} == set(LTX2_CLASSES)
    assert not old.runnable
    new = validate_template(ltx2, with_nodes(captured, LTX2_CLASSES))
    assert new.errors == [] and new.runnable
    graph = bind(ltx2, {"image": "first.png", "width": 768, "height": 512, "length": 97, "fps": 24})
    assert graph["14"]["inputs"]["length"] == 97 and graph["18"]["inputs"]["frames_number"] == 97
    assert graph["40"]["inputs"]["fps"] == 24.0 and graph["6"]["inputs"]["frame_rate"] == 24.0
    assert check_params(ltx2, graph) == []
    assert note_of(graph) == {  # its output: `length` frames at `fps`
        "workflow": "ltx2_i2v",
        "min_comfyui": "0.8.0",
        "expect": {"frames": {"value": 97}, "fps": {"value": 24.0}},
    }
    assert comfyui_too_old(graph, "0.3.64") == (
        "workflow 'ltx2_i2v' needs ComfyUI >= 0.8.0; this agent's ComfyUI is 0.3.64"
    )
    assert comfyui_too_old(graph, "0.8.0") is None and comfyui_too_old(graph, "unknown") is None
    bad = bind(ltx2, {"image": "first.png", "width": 720, "length": 96})
    assert sorted(role for role, _ in check_params(ltx2, bad)) == ["length", "width"]


def test_svi2pro_needs_the_kjnodes_pack_and_chains_two_segments(captured: dict[str, Any]) -> None:
    svi = template("wan22_svi2pro_long")

    assert svi.meta.job_type == "i2v" and svi.roles >= SHOT_ROLES
    [pack] = svi.meta.custom_nodes
    assert pack.package == "ComfyUI-KJNodes" and pack.classes == list(KJNODES_CLASSES)
    assert any("SVI_v2_PRO" in m for m in svi.meta.models)
    assert graph_model_files(svi.graph) == set(svi.meta.models)
    segments = [n for n, node in svi.graph.items() if node["class_type"] == "WanImageToVideoSVIPro"]
    assert len(segments) == 2
    assert svi.graph[segments[1]]["inputs"]["prev_samples"] == ["16", 0]  # continues segment 1
    old = validate_template(svi, captured)
    assert old.errors == [] and not old.runnable
    assert {p.class_type for p in old.missing_custom_nodes} == {"WanImageToVideoSVIPro"}
    assert validate_template(svi, with_nodes(captured, KJNODES_CLASSES)).runnable
    graph = bind(svi, {"image": "first.png", "seed": 7, "length": 33, "width": 640, "height": 368})
    assert [graph[n]["inputs"]["length"] for n in segments] == [33, 33]
    assert check_params(svi, graph) == []
    assert note_of(graph)["expect"] == {"frames": {"value": 66}, "fps": {"value": 16.0}}  # type: ignore[index]


def test_the_cpu_i2v_step_is_checked_for_its_length_at_its_fps(tmp_path: Path) -> None:
    """The first step of a recipe chain (cpu_test_still_video on the stand-in and a CPU ComfyUI) is checked
    like the steps after it: `length` frames at `fps`."""
    graph = bind(template("cpu_test_still_video"), {"image": "first.png", "length": 12, "fps": 24})
    assert note_of(graph)["expect"] == {"frames": {"value": 12}, "fps": {"value": 24.0}}  # type: ignore[index]
    assert check_outputs(graph, {}, [clip(tmp_path / "ok.mp4", 12, 24)])["outputs"][0]["frames"] == 12  # type: ignore[index]
    with pytest.raises(OutputCheckFailed, match="expected 12 frames, got 10"):
        check_outputs(graph, {}, [clip(tmp_path / "short.mp4", 10, 24)])


def test_an_expectation_from_a_bound_role_needs_no_input(tmp_path: Path) -> None:
    graph = bind(template("wan22_svi2pro_long"), {"image": "first.png", "length": 5, "fps": 24})
    made = clip(tmp_path / "svi.mp4", 10, 24)

    assert check_outputs(graph, {}, [made]) == {
        "input": None,
        "outputs": [{"file": "svi.mp4", "frames": 10, "fps": 24.0, "width": 64, "height": 48}],
    }
    with pytest.raises(OutputCheckFailed) as failed:
        check_outputs(bind(template("wan22_svi2pro_long"), {"image": "a.png", "length": 9}), {}, [made])
    assert str(failed.value) == (
        "output svi.mp4 of workflow 'wan22_svi2pro_long': expected 18 frames, got 10; "
        "expected 16.000 fps, got 24.000"
    )
    with pytest.raises(TemplateError, match="exactly one of"):
        load_template(copy_with_meta("ltx2_i2v", tmp_path, expect={"frames": {"multiply": 2}}))
    with pytest.raises(TemplateError, match="size is measured from an input"):
        load_template(copy_with_meta("ltx2_i2v", tmp_path, expect={"size": {"role": "width"}}))


# ---- the real-model i2v templates ---------------------------------------------------------------
MODEL_I2V = (
    "wan22_i2v_14b",
    "wan21_i2v_480p",
    "ltxv095_i2v",
    "wan22_14b_fun_control",
    "wan21_vace_14b_control",
)


def test_every_i2v_template_says_what_its_output_must_be() -> None:
    """An i2v render is checked after its run whichever template made it (a recipe's first step)."""
    i2v = [p.name.removesuffix(".meta.json") for p in sorted(WORKFLOWS.glob("*.meta.json"))
           if json.loads(p.read_text(encoding="utf-8"))["job_type"] == "i2v"]  # fmt: skip
    assert set(MODEL_I2V) <= set(i2v)
    assert [name for name in i2v if not template(name).meta.expect] == []


@pytest.mark.parametrize("name", MODEL_I2V)
def test_a_model_i2v_template_expects_length_frames_at_fps_as_its_graph_makes_them(
    name: str, tmp_path: Path
) -> None:
    t = template(name)
    length = 49 if name == "ltxv095_i2v" else 33  # each model's 8k+1 / 4k+1 rule
    control = {"control_video": "depth.mp4"} if "control_video" in t.roles else {}
    graph = bind(t, {"image": "first.png", "length": length, "fps": 24, **control})
    assert check_params(t, graph) == []
    assert note_of(graph)["expect"] == {"frames": {"value": length}, "fps": {"value": 24.0}}  # type: ignore[index]
    # What the sidecar expects is what the graph is told to make: the latent's length and the video's fps.
    save = next(node for node in graph.values() if node["class_type"] == "SaveVideo")
    video = graph[save["inputs"]["video"][0]]
    assert video["class_type"] == "CreateVideo" and video["inputs"]["fps"] == 24.0
    lengths = {node["inputs"]["length"] for node in graph.values() if "length" in node.get("inputs", {})}
    assert lengths == {length}
    assert check_outputs(graph, {}, [clip(tmp_path / "ok.mp4", length, 24)])["outputs"][0]["frames"] == length  # type: ignore[index]
    with pytest.raises(OutputCheckFailed, match=f"expected {length} frames, got {length - 4}"):
        check_outputs(graph, {}, [clip(tmp_path / "short.mp4", length - 4, 24)])
    with pytest.raises(OutputCheckFailed, match="fps"):
        check_outputs(graph, {}, [clip(tmp_path / "slow.mp4", length, 16)])
