"""The stand-in's weightless image nodes over its real HTTP API: what the image-loop tests rely on.

The fake sampler itself honours masks (an inpaint model's mask, a latent noise mask) without any composite
after it, is fixed by its seed, and VAEEncode crops like ComfyUI; Canny, LoadImageMask's channels and
ImagePadForOutpaint's feathered mask follow ComfyUI 0.3.64's nodes.
"""

from __future__ import annotations

import copy
import io
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image, ImageDraw

from aipipe_shared.workflows import bind, load_template
from tests.comfyui_standin.fixtures import RunningStandin, running_standin
from tests.comfyui_standin.image_nodes import image_pad_for_outpaint
from tests.comfyui_standin.nodes import NodeContext
from tests.support.pictures import gradient

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
SIZE = (128, 96)


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStandin]:
    models = {m for n in ("flux1_dev_i2i", "flux1_fill_inpaint") for m in template(n).meta.models}
    with running_standin(tmp_path_factory.mktemp("comfy"), models=sorted(models)) as running:
        folder = running.comfy.input_dir
        gradient(SIZE).save(folder / "take.png")
        mask = Image.new("L", SIZE, 0)
        ImageDraw.Draw(mask).rectangle((16, 16, 63, 47), fill=255)
        mask.save(folder / "mask.png")
        rgba = gradient(SIZE).convert("RGBA")
        rgba.putalpha(Image.eval(mask, lambda v: 255 - v))  # transparent = repaint
        rgba.save(folder / "mask_alpha.png")
        yield running


def template(name: str) -> Any:
    return load_template(WORKFLOWS / f"{name}.json")


def execute(standin: RunningStandin, graph: dict[str, Any]) -> Image.Image:
    """POST /prompt, poll /history/{id}, GET /view the first output image."""
    prompt_id = str(uuid.uuid4())
    with httpx.Client(base_url=standin.url, timeout=10) as http:
        answer = http.post("/prompt", json={"prompt": graph, "prompt_id": prompt_id})
        assert answer.status_code == 200, answer.text
        deadline = time.monotonic() + 30
        while not (entry := http.get(f"/history/{prompt_id}").json()):
            assert time.monotonic() < deadline, "the prompt did not finish"
            time.sleep(0.05)
        item = entry[prompt_id]
        assert item["status"]["status_str"] == "success", item["status"]
        [image] = next(iter(item["outputs"].values()))["images"]
        data = http.get("/view", params=image).content
    return Image.open(io.BytesIO(data)).convert("RGB")


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


def inpaint_without_composite(mask_file: str = "mask.png", channel: str = "red") -> dict[str, Any]:
    graph = bind(template("flux1_fill_inpaint"), {"image": "take.png", "mask": mask_file, "seed": 3})
    del graph["60"]
    graph["9"]["inputs"]["images"] = ["8", 0]
    graph["50"]["inputs"]["channel"] = channel
    return graph


def test_the_sampler_repaints_only_an_inpaint_models_mask(standin: RunningStandin) -> None:
    out = execute(standin, inpaint_without_composite())

    inside = np.zeros((SIZE[1], SIZE[0]), bool)
    inside[16:48, 16:64] = True
    before, after = pixels(gradient(SIZE)), pixels(out)
    assert np.array_equal(after[~inside], before[~inside])
    assert np.abs(after[inside] - before[inside]).mean() > 20
    # LoadImageMask's alpha channel is inverted: transparent pixels are the ones repainted
    alpha = execute(standin, inpaint_without_composite("mask_alpha.png", "alpha"))
    assert np.array_equal(pixels(alpha), after)


def test_a_latent_noise_mask_limits_a_refine_and_seeds_fix_the_result(standin: RunningStandin) -> None:
    graph = bind(template("flux1_dev_i2i"), {"image": "take.png", "seed": 11, "denoise": 1.0})
    graph["50"] = {"class_type": "LoadImageMask", "inputs": {"image": "mask.png", "channel": "red"}}
    graph["51"] = {"class_type": "SetLatentNoiseMask", "inputs": {"samples": ["41", 0], "mask": ["50", 0]}}
    graph["3"]["inputs"]["latent_image"] = ["51", 0]
    other_seed = copy.deepcopy(graph)
    other_seed["3"]["inputs"]["seed"] = 12

    out, again, other = (execute(standin, g) for g in (graph, copy.deepcopy(graph), other_seed))

    before = pixels(gradient(SIZE))
    assert np.array_equal(pixels(out)[60:], before[60:]) and not np.array_equal(pixels(out), before)
    assert np.array_equal(pixels(out), pixels(again))
    assert not np.array_equal(pixels(out), pixels(other))


def test_vae_encode_crops_to_a_multiple_of_8_centred(standin: RunningStandin) -> None:
    gradient((133, 101)).save(standin.comfy.input_dir / "odd.png")
    graph = bind(template("flux1_dev_i2i"), {"image": "odd.png", "seed": 1, "denoise": 0.05})

    assert execute(standin, graph).size == (128, 96)


def test_canny_draws_the_edges_white_on_black(standin: RunningStandin) -> None:
    box = Image.new("RGB", SIZE, (0, 0, 0))
    ImageDraw.Draw(box).rectangle((32, 32, 95, 63), fill=(255, 255, 255))
    box.save(standin.comfy.input_dir / "box.png")
    graph = {
        "1": {"class_type": "LoadImage", "inputs": {"image": "box.png"}},
        "2": {
            "class_type": "Canny",
            "inputs": {"image": ["1", 0], "low_threshold": 0.2, "high_threshold": 0.4},
        },
        "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "canny"}},
    }

    edges = pixels(execute(standin, graph))[..., 0]

    assert edges[48, 32] == 255 and edges[32, 64] == 255  # on the box's outline
    assert edges[48, 64] == 0 and edges[5, 5] == 0  # inside the box and outside it: flat


def test_outpaint_mask_is_one_on_the_border_and_feathers_into_the_picture(tmp_path: Path) -> None:
    context = NodeContext(tmp_path, tmp_path, tmp_path, {})
    inputs = {"image": [gradient((64, 48))], "left": 16, "top": 0, "right": 0, "bottom": 8, "feathering": 4}

    (images, masks), _ = image_pad_for_outpaint(inputs, context)

    assert images[0].size == (80, 56) and images[0].getpixel((0, 0)) == (128, 128, 128)
    mask = np.asarray(masks[0])
    assert mask[:, :16].min() == 255 and mask[48:].min() == 255  # the new border
    # ((feathering - distance) / feathering)², distance from the padded sides only (left, bottom)
    assert [mask[10, 16 + j] for j in range(5)] == [255, 143, 64, 16, 0]
    assert mask[0, 40] == 0 and mask[47, 40] == 143  # top is not padded: no ramp; bottom row: distance 1


def test_load_image_mask_checks_its_file_and_its_channel(standin: RunningStandin) -> None:
    graph = inpaint_without_composite()
    graph["50"]["inputs"].update({"image": "nowhere.png", "channel": "purple"})

    with httpx.Client(base_url=standin.url, timeout=10) as http:
        answer = http.post("/prompt", json={"prompt": graph})

    assert answer.status_code == 400
    errors = {e["type"]: e["details"] for e in answer.json()["node_errors"]["50"]["errors"]}
    assert errors["custom_validation_failed"] == "image - Invalid image file: nowhere.png"
    assert errors["value_not_in_list"].startswith("channel: 'purple' not in")
