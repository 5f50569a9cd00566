"""Weightless post-production nodes of the stand-in for issue 17: video in and out with sound, RIFE frame
interpolation and model upscaling, so a test can read frames, rate, size and audio back with PyAV.

- LoadVideo decodes the clip's frames, its rate and (if it has one) its first audio stream; SaveVideo
  (nodes.py) writes h264 (yuv420p) and, when the video carries audio, AAC, as ComfyUI's
  VideoFromComponents.save_to.
- `RIFE VFI` (ComfyUI-Frame-Interpolation) returns what its `generic_frame_loop` returns for an integer
  `multiplier` m: for every pair of neighbours the first frame and m-1 frames between them, then the last
  frame, so n frames become (n-1)*m+1. The frames between are blends of the neighbours (the real node runs
  RIFE there). Like the real node it refuses fewer than two frames.
- UpscaleModelLoader takes the scale from the model's name (`RealESRGAN_x2.pth`, `4x-UltraSharp.pth`): the
  real loader reads it from the weights; ImageUpscaleWithModel resizes every frame by it (Lanczos).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av
import numpy as np
from PIL import Image

from .nodes import NodeContext, NodeResult, Video, annotated_path

SCALE_IN_NAME = re.compile(r"(?:^|[^a-z0-9])x(\d+)|(\d+)x(?:[^a-z0-9]|$)", re.IGNORECASE)


@dataclass(frozen=True)
class UpscaleModel:
    """What UpscaleModelLoader hands out: the file and the scale it upscales by."""

    name: str
    scale: int


def audio_of(container: av.container.InputContainer) -> dict[str, Any] | None:
    """ComfyUI's AUDIO: `{"waveform": float32 (channels, samples), "sample_rate"}`; None without sound."""
    if not container.streams.audio:
        return None
    stream = container.streams.audio[0]
    chunks = [frame.to_ndarray().astype(np.float32) for frame in container.decode(stream)]
    if not chunks:
        return None
    layout = stream.layout.nb_channels if stream.layout else 1
    planar = [c if c.shape[0] == layout else c.reshape(-1, layout).T for c in chunks]
    return {"waveform": np.concatenate(planar, axis=1), "sample_rate": int(stream.rate)}


def load_video(inputs: dict[str, Any], ctx: NodeContext) -> NodeResult:
    path = annotated_path(str(inputs["file"]), ctx)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or Fraction(24)
        frames = [frame.to_image().convert("RGB") for frame in container.decode(stream)]
    with av.open(str(path)) as container:
        audio = audio_of(container)
    return (Video(frames, float(rate), audio),), None


def rife_frames(frames: list[Image.Image], multiplier: int) -> list[Image.Image]:
    """RIFE VFI's frame loop with blends for the frames between: (n-1)*multiplier+1 frames."""
    if len(frames) < 2:
        raise ValueError(f"RIFE requires at least 2 frames to work with, only found {len(frames)}")
    if multiplier < 1:
        raise ValueError(f"multiplier must be at least 1, got {multiplier}")
    out: list[Image.Image] = []
    for first, second in zip(frames, frames[1:], strict=False):
        out.append(first)
        out += [Image.blend(first, second, step / multiplier) for step in range(1, multiplier)]
    out.append(frames[-1])
    return out


def rife_vfi(inputs: dict[str, Any], ctx: NodeContext) -> NodeResult:
    return (rife_frames(list(inputs["frames"]), int(inputs["multiplier"])),), None


def upscale_scale(name: str) -> int:
    """The scale an upscale model's file name states (`RealESRGAN_x2.pth` -> 2, `4x-UltraSharp.pth` -> 4)."""
    match = SCALE_IN_NAME.search(name.rsplit("/", 1)[-1])
    if match is None:
        raise ValueError(f"the stand-in cannot tell the scale of upscale model {name!r} from its name")
    return int(match.group(1) or match.group(2))


def upscale_model_loader(inputs: dict[str, Any], ctx: NodeContext) -> NodeResult:
    name = str(inputs["model_name"])
    return (UpscaleModel(name, upscale_scale(name)),), None


def image_upscale_with_model(inputs: dict[str, Any], ctx: NodeContext) -> NodeResult:
    model: UpscaleModel = inputs["upscale_model"]
    out = [
        img.resize((img.width * model.scale, img.height * model.scale), Image.Resampling.LANCZOS)
        for img in inputs["image"]
    ]
    return (out,), None


POST_NODE_FUNCTIONS: dict[str, Callable[[dict[str, Any], NodeContext], NodeResult]] = {
    "LoadVideo": load_video,
    "RIFE VFI": rife_vfi,
    "UpscaleModelLoader": upscale_model_loader,
    "ImageUpscaleWithModel": image_upscale_with_model,
}
