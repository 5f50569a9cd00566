"""The image loop's templates run by a real `aipipe-agent` process on the ComfyUI stand-in (issue 14).

A job per template, bound as the server binds it (`bind` with a placeholder per input, `role_targets` for
each input's targets), its inputs (take, mask, control image, references) served by the farm double. The
agent downloads them, uploads each to ComfyUI's input folder and sets the uploaded names into the graph;
the stand-in runs the graph weightlessly. The outputs are read back with Pillow: the mask was honoured
(unmasked pixels identical, masked ones changed), outpaint gives the padded size, a refine stays as close to
the take as its denoise says, the control image steers the picture by its strength, an edit keeps the take
and follows its references.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw

from aipipe_shared.workflows import WorkflowTemplate, bind, load_template, role_targets
from tests.agent.fake_farm import FakeJob, FarmServer, running_farm
from tests.agent.farm_rig import AgentProcess, agent_process, wait_for
from tests.comfyui_standin.fixtures import RunningStandin, running_standin

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
TEMPLATES = (
    "flux1_dev_t2i",
    "flux1_dev_i2i",
    "flux1_fill_inpaint",
    "flux1_fill_outpaint",
    "qwen_image_edit",
    "flux1_dev_controlnet_depth",
    "flux1_dev_controlnet_canny",
    "flux1_dev_controlnet_pose",
)
SIZE = (256, 160)  # a take: multiples of 16, as FLUX and Qwen want


@dataclass
class Loop:
    farm: FarmServer
    comfy: RunningStandin
    agent: AgentProcess
    seeds: Iterator[int]

    def run(
        self, name: str, params: dict[str, Any], files: dict[str, list[tuple[str, bytes]]]
    ) -> tuple[Image.Image, dict[str, Any]]:
        """Queue a job of template `name` with input files by role; wait; its output PNG and its graph."""
        job, graph = self.finish(name, params, files)
        assert job.status == "succeeded", (job.error, self.agent.log()[-3000:])
        [(output_name, (_, data))] = job.outputs.items()
        assert output_name.endswith(".png")
        return Image.open(io.BytesIO(data)).convert("RGB"), graph

    def finish(
        self, name: str, params: dict[str, Any], files: dict[str, list[tuple[str, bytes]]]
    ) -> tuple[FakeJob, dict[str, Any]]:
        tpl = template(name)
        inputs, placeholders = [], {}
        for role, items in files.items():
            for index, (file_name, data) in enumerate(items):
                url, sha = self.farm.farm.add_file(file_name, data)
                targets = role_targets(tpl, role, index)
                inputs.append(
                    {"role": role, "name": file_name, "url": url, "sha256": sha, "targets": targets}
                )
            names = [file_name for file_name, _ in items]
            placeholders[role] = names if role == "reference_image" else names[0]
        values = {"seed": next(self.seeds), "filename_prefix": f"aipipe/{name}", **params}
        graph = bind(tpl, {**values, **placeholders})
        job_id = self.farm.farm.enqueue(tpl.meta.job_type, graph=graph, params=values, inputs=inputs)
        job = self.farm.farm.jobs[job_id]
        wait_for(lambda: job.status in ("succeeded", "failed"), f"{name} job finished", timeout=60)
        return job, graph


def template(name: str) -> WorkflowTemplate:
    return load_template(WORKFLOWS / f"{name}.json")


@pytest.fixture(scope="module")
def loop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loop]:
    """One farm double, one stand-in holding every model file of these templates, one agent process."""
    root = tmp_path_factory.mktemp("image_loop")
    models = sorted({m for name in TEMPLATES for m in template(name).meta.models})
    with ExitStack() as stack:
        farm = stack.enter_context(running_farm())
        comfy = stack.enter_context(running_standin(root / "comfy", models=models))
        agent = stack.enter_context(
            agent_process([farm.url], farm.farm.api_key, root / "work", name="image-loop", comfyui=comfy.url)
        )
        yield Loop(farm, comfy, agent, itertools.count(1001))


# ---- pictures -------------------------------------------------------------------------------------------
def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def take(size: tuple[int, int] = SIZE) -> Image.Image:
    """A take to work on: a gradient with a dark box in it."""
    width, height = size
    x = np.linspace(0, 255, width)[None, :].repeat(height, 0)
    y = np.linspace(0, 255, height)[:, None].repeat(width, 1)
    image = Image.fromarray(np.stack([x, y, np.full_like(x, 140)], axis=2).astype(np.uint8), "RGB")
    ImageDraw.Draw(image).rectangle((150, 40, 210, 120), fill=(30, 30, 60))
    return image


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


def mean_difference(a: Image.Image, b: Image.Image) -> float:
    return float(np.abs(pixels(a) - pixels(b)).mean())


def grey(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L"), dtype=np.float64)


def correlation(a: Image.Image, b: Image.Image) -> float:
    return float(np.corrcoef(grey(a).ravel(), grey(b).ravel())[0, 1])


# ---- tests ------------------------------------------------------------------------------------------------
def test_generate_makes_a_picture_of_the_asked_size(loop: Loop) -> None:
    out, _ = loop.run("flux1_dev_t2i", {"positive": "a fox", "width": 256, "height": 160}, {})

    assert out.size == (256, 160) and grey(out).std() > 5  # a picture, not a flat fill


def test_refine_stays_as_close_to_the_take_as_its_denoise_says(loop: Loop) -> None:
    source = take()
    files = {"image": [("take_v003.png", png(source))]}

    light, _ = loop.run("flux1_dev_i2i", {"positive": "crisper", "denoise": 0.2}, files)
    heavy, _ = loop.run("flux1_dev_i2i", {"positive": "crisper", "denoise": 0.8}, files)

    assert light.size == heavy.size == source.size
    assert 0 < mean_difference(light, source) < mean_difference(heavy, source) / 2
    uploaded = list((loop.comfy.comfy.input_dir / "aipipe").rglob("take_v003.png"))
    assert uploaded and uploaded[0].read_bytes() == files["image"][0][1]


def test_inpaint_repaints_only_the_white_of_the_mask(loop: Loop) -> None:
    source = take()
    mask = Image.new("L", SIZE, 0)
    ImageDraw.Draw(mask).rectangle((32, 32, 111, 95), fill=255)  # white = repaint
    files = {"image": [("take.png", png(source))], "mask": [("take_mask.png", png(mask))]}

    out, graph = loop.run("flux1_fill_inpaint", {"positive": "a red door"}, files)

    assert out.size == source.size
    inside = np.asarray(mask) == 255
    before, after = pixels(source), pixels(out)
    assert np.array_equal(after[~inside], before[~inside])  # outside the mask: exactly the take
    assert np.abs(after[inside] - before[inside]).mean() > 20  # inside: repainted
    # two inputs of one job, each uploaded and bound where the template reads it
    assert graph["50"]["class_type"] == "LoadImageMask"
    masks = list((loop.comfy.comfy.input_dir / "aipipe").rglob("take_mask.png"))
    assert masks and masks[0].read_bytes() == files["mask"][0][1]


def test_outpaint_gives_the_padded_size_and_keeps_the_middle(loop: Loop) -> None:
    source = take()
    pads = {"pad_left": 64, "pad_top": 0, "pad_right": 64, "pad_bottom": 32, "feathering": 16}

    out, _ = loop.run(
        "flux1_fill_outpaint", {"positive": "more street", **pads}, {"image": [("t.png", png(source))]}
    )

    assert out.size == (256 + 128, 160 + 32)
    middle = pixels(out)[0 : 160 - 16, 64 + 16 : 64 + 256 - 16]  # the take, minus the feathered band
    assert np.array_equal(middle, pixels(source)[0 : 160 - 16, 16 : 256 - 16])
    border = pixels(out)[:, :64]
    assert np.abs(border - 128).mean() > 10  # the new border was painted, not left grey


@pytest.mark.parametrize(
    "name", ["flux1_dev_controlnet_depth", "flux1_dev_controlnet_canny", "flux1_dev_controlnet_pose"]
)
def test_control_image_steers_the_picture_by_its_strength(loop: Loop, name: str) -> None:
    control = Image.new("RGB", SIZE, (0, 0, 0))
    draw = ImageDraw.Draw(control)
    if name.endswith("depth"):
        draw.rectangle((0, 0, 127, 159), fill=(255, 255, 255))  # near on the left
    elif name.endswith("pose"):  # a skeleton's limbs in OpenPose colours
        draw.line((128, 20, 128, 100), fill=(255, 0, 0), width=12)
        draw.line((80, 50, 176, 50), fill=(0, 255, 85), width=12)
        draw.line((128, 100, 100, 159), fill=(0, 85, 255), width=12)
    else:
        for x in range(8, 256, 24):
            draw.line((x, 0, x, 159), fill=(255, 255, 255), width=3)  # a line image
    files = {"control_image": [(f"control_{name.rsplit('_', 1)[1]}.png", png(control))]}
    base = {"positive": "a street", "width": 256, "height": 160}

    off, _ = loop.run(name, {**base, "control_strength": 0.0}, files)
    strong, graph = loop.run(name, {**base, "control_strength": 0.9}, files)
    early, _ = loop.run(name, {**base, "control_strength": 0.9, "control_end": 0.3}, files)

    assert off.size == strong.size == SIZE and graph["14"]["inputs"]["strength"] == 0.9
    assert correlation(strong, control) > 0.8
    assert correlation(off, control) < 0.5
    assert correlation(off, control) < correlation(early, control) < correlation(strong, control)


def test_edit_keeps_the_take_follows_the_instruction_and_the_reference(loop: Loop) -> None:
    source = take()
    files = {"image": [("take.png", png(source))]}
    red = Image.new("RGB", (128, 128), (250, 20, 20))
    size = {"width": 256, "height": 160}

    night, graph = loop.run("qwen_image_edit", {"instruction": "make it night", **size}, files)
    rain, _ = loop.run("qwen_image_edit", {"instruction": "make it rain", **size}, files)
    with_ref, ref_graph = loop.run(
        "qwen_image_edit",
        {"instruction": "make it night", **size},
        {**files, "reference_image": [("red_coat.png", png(red))]},
    )

    assert night.size == SIZE and graph["68"]["inputs"]["prompt"] == "make it night"
    assert "42" not in graph and "image2" not in graph["68"]["inputs"]  # no reference: its slot is gone
    assert mean_difference(night, source) < 60 and correlation(night, source) > 0.7
    assert mean_difference(night, rain) > 1  # the instruction matters
    assert ref_graph["68"]["inputs"]["image2"] == ["42", 0]
    assert pixels(with_ref)[..., 0].mean() > pixels(night)[..., 0].mean() + 10  # the red reference shows


def test_a_mask_that_is_no_image_fails_the_job_naming_the_node(loop: Loop) -> None:
    files = {"image": [("take.png", png(take()))], "mask": [("mask.png", b"not a picture")]}

    job, _ = loop.finish("flux1_fill_inpaint", {"positive": "x"}, files)

    assert job.status == "failed" and job.error is not None
    assert "node 50 (LoadImageMask)" in job.error["error"] and "cannot identify image" in job.error["error"]
    assert job.error["kind"] == "input" and not job.error["retryable"]  # fails the same on every agent
