"""Weightless nodes of the stand-in for issue 15: Lotus depth from a picture, and Wan's control-video
renders (LoadVideo → GetVideoComponents → Wan22FunControlToVideo / WanVaceToVideo → sampler → VAEDecode).

What a graph asks for stays visible in the output, so tests can check it:
- Lotus: the "prediction" is a depth picture of the input (far = bright: a vertical gradient, the top far,
  shaded by the picture's blurred luminance), which the template's ImageInvert turns into near = white.
  Fixed by the input: the same picture gives the same bytes.
- Wan control video: the output has exactly `length` frames (ComfyUI cuts longer control videos to
  `length`; frames past a shorter one are unguided); frame i mixes the seed's pattern, the reference image
  and control frame i's luminance (Fun control: weight 0.8; VACE: its strength, clamped to 0..1).
- LoadVideo reads the file with PyAV and keeps its rate (core LoadVideo cannot resample); GetVideoComponents
  hands out its frames and that rate.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av
import numpy as np
from PIL import Image, ImageFilter

from .image_nodes import (
    Cond,
    Latent,
    _array,
    _crop_to_latent,
    _image,
    fake_sample,
    ksampler,
    luminance,
    pattern,
    sampler_custom_advanced,
)
from .nodes import NodeContext, NodeResult, Video, annotated_path

LOTUS_TEXT = "\x00lotus-depth"  # the conditioning LotusConditioning hands out (no prompt: it has none)
FUN_CONTROL_WEIGHT = 0.8  # how much of a control frame's luminance Wan Fun control mixes in
REFERENCE_KEEP = 0.3  # how much of the reference image each frame keeps


@dataclass
class VideoLatent(Latent):
    """A Wan video latent: `batch` frames, each guided by its control frame (if any) and the reference."""

    guides: tuple[Image.Image, ...] = ()
    guide_weight: float = 0.0
    reference: Image.Image | None = None


# ---- video in ------------------------------------------------------------------------------------
def load_video(inputs: dict[str, Any], ctx: NodeContext) -> NodeResult:
    path = annotated_path(str(inputs["file"]), ctx)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or Fraction(24)
        frames = [frame.to_image().convert("RGB") for frame in container.decode(stream)]
    return (Video(frames, float(rate)),), None


def get_video_components(inputs: dict[str, Any], ctx: NodeContext) -> NodeResult:
    video: Video = inputs["video"]
    return (list(video.frames), video.audio, float(video.fps)), None


# ---- Lotus depth ---------------------------------------------------------------------------------
def lotus_conditioning(inputs: dict[str, Any], ctx: NodeContext) -> NodeResult:
    return ([Cond(LOTUS_TEXT)],), None


def disable_noise(inputs: dict[str, Any], ctx: NodeContext) -> NodeResult:
    return (0,), None


def set_first_sigma(inputs: dict[str, Any], ctx: NodeContext) -> NodeResult:
    return (inputs["sigmas"],), None


def lotus_prediction(img: Image.Image) -> Image.Image:
    """The fake Lotus-D output for a picture: far = bright (the template inverts it)."""
    width, height = img.size
    rows = np.linspace(1.0, 0.0, height)[:, None] * np.ones((1, width))  # the top far, the bottom near
    shade = np.asarray(img.convert("L").filter(ImageFilter.GaussianBlur(4)), dtype=np.float64) / 255.0
    depth = 255.0 * (0.85 * rows + 0.15 * shade)
    return _image(np.repeat(depth[..., None], 3, axis=2))


def sampler_custom_advanced_with_lotus(inputs: dict[str, Any], ctx: NodeContext) -> NodeResult:
    guider = inputs["guider"]
    if guider.positive and guider.positive[0].text == LOTUS_TEXT:
        latent: Latent = inputs["latent_image"]
        images = [lotus_prediction(_crop_to_latent(img)) for img in latent.images or []]
        made = dataclasses.replace(latent, images=images, batch=len(images))
        return (made, made), None
    return sampler_custom_advanced(inputs, ctx)


# ---- Wan control video ---------------------------------------------------------------------------
def _video_latent(inputs: dict[str, Any], control: Any, weight: float, reference: Any) -> VideoLatent:
    length = int(inputs["length"])
    guides = tuple(control[:length]) if control is not None else ()
    return VideoLatent(
        width=int(inputs["width"]),
        height=int(inputs["height"]),
        images=None,
        batch=length * int(inputs["batch_size"]),
        guides=guides,
        guide_weight=weight if guides else 0.0,
        reference=reference[0] if reference else None,
    )


def wan22_fun_control_to_video(inputs: dict[str, Any], ctx: NodeContext) -> NodeResult:
    latent = _video_latent(inputs, inputs.get("control_video"), FUN_CONTROL_WEIGHT, inputs.get("ref_image"))
    return (inputs["positive"], inputs["negative"], latent), None


def wan_vace_to_video(inputs: dict[str, Any], ctx: NodeContext) -> NodeResult:
    strength = min(1.0, max(0.0, float(inputs["strength"])))
    reference = inputs.get("reference_image")
    latent = _video_latent(inputs, inputs.get("control_video"), strength, reference)
    trim = 0
    if latent.reference is not None:
        # VACE puts the reference in front as an extra frame; TrimVideoLatent takes it off again.
        latent = dataclasses.replace(
            latent, batch=latent.batch + 1, guides=(latent.reference, *latent.guides)
        )
        trim = 1
    return (inputs["positive"], inputs["negative"], latent, trim), None


def video_sample(seed: int, positive: list[Cond], latent: VideoLatent, denoise: float) -> VideoLatent:
    """Every frame: the seed's pattern, the reference image, the control frame; mixed with what the latent
    already holds by `denoise` (a second sampler pass continues the first)."""
    size = (latent.width, latent.height)
    text = positive[0].text if positive else ""
    base = pattern(seed, text, size)
    if latent.reference is not None:
        base = base * (1 - REFERENCE_KEEP) + _array(latent.reference.resize(size)) * REFERENCE_KEEP
    frames = []
    for index in range(latent.batch):
        made = base
        if index < len(latent.guides):
            made = (
                made * (1 - latent.guide_weight) + luminance(latent.guides[index], size) * latent.guide_weight
            )
        if latent.images:
            made = _array(latent.images[index]) * (1 - denoise) + made * denoise
        frames.append(_image(made))
    return dataclasses.replace(latent, images=frames)


def ksampler_with_video(inputs: dict[str, Any], ctx: NodeContext) -> NodeResult:
    latent = inputs["latent_image"]
    if isinstance(latent, VideoLatent):
        return (
            video_sample(int(inputs["seed"]), inputs["positive"], latent, float(inputs["denoise"])),
        ), None
    return ksampler(inputs, ctx)


def ksampler_advanced(inputs: dict[str, Any], ctx: NodeContext) -> NodeResult:
    """A pass over steps [start, end) changes that share of the picture (the first pass all of it)."""
    steps = max(1, int(inputs["steps"]))
    start, end = int(inputs["start_at_step"]), min(int(inputs["end_at_step"]), steps)
    latent = inputs["latent_image"]
    continuing = inputs["add_noise"] == "disable" and latent.images
    denoise = max(0.0, end - start) / steps if continuing else 1.0
    seed = int(inputs["noise_seed"])
    if isinstance(latent, VideoLatent):
        return (video_sample(seed, inputs["positive"], latent, denoise),), None
    return (fake_sample(seed, inputs["positive"], latent, denoise),), None


def trim_video_latent(inputs: dict[str, Any], ctx: NodeContext) -> NodeResult:
    latent: Latent = inputs["samples"]
    trim = int(inputs["trim_amount"])
    images = list(latent.images or [])[trim:]
    return (dataclasses.replace(latent, images=images, batch=len(images)),), None


VIDEO_CONTROL_NODE_FUNCTIONS: dict[str, Callable[[dict[str, Any], NodeContext], NodeResult]] = {
    "LoadVideo": load_video,
    "GetVideoComponents": get_video_components,
    "LotusConditioning": lotus_conditioning,
    "DisableNoise": disable_noise,
    "SetFirstSigma": set_first_sigma,
    "SamplerCustomAdvanced": sampler_custom_advanced_with_lotus,
    "Wan22FunControlToVideo": wan22_fun_control_to_video,
    "WanVaceToVideo": wan_vace_to_video,
    "KSampler": ksampler_with_video,
    "KSamplerAdvanced": ksampler_advanced,
    "TrimVideoLatent": trim_video_latent,
}
