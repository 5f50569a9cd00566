"""The weightless ComfyUI nodes the stand-in really executes, with Pillow and PyAV.

IMAGE = list of RGB PIL images (a batch), MASK = list of "L" images, VIDEO = `Video`.
Each node function takes its resolved inputs and returns (outputs tuple, ui dict or None).
File naming follows ComfyUI's `get_save_image_path`: `<prefix>_<counter:05>_.<ext>` in the prefix's subfolder.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from PIL import Image, ImageOps, PngImagePlugin

RESAMPLE = {
    "nearest-exact": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "area": Image.Resampling.BOX,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
}


@dataclass
class Video:
    """What CreateVideo hands to SaveVideo."""

    frames: list[Image.Image]
    fps: float
    audio: Any = None


@dataclass
class NodeContext:
    """Where a node reads and writes files, and the prompt it belongs to (for PNG metadata)."""

    input_dir: Path
    output_dir: Path
    temp_dir: Path
    prompt: dict[str, Any]


NodeResult = tuple[tuple[Any, ...], dict[str, Any] | None]


def annotated_path(name: str, ctx: NodeContext) -> Path:
    """Resolve `LoadImage.image` (`sub/name.png` or `name.png [input]`) inside its base folder."""
    base = {"input": ctx.input_dir, "output": ctx.output_dir, "temp": ctx.temp_dir}
    match = re.fullmatch(r"(.*) \[(input|output|temp)\]", name)
    folder = base[match.group(2)] if match else ctx.input_dir
    return folder / (match.group(1) if match else name)


def load_image(inputs: dict[str, Any], ctx: NodeContext) -> NodeResult:
    img = Image.open(annotated_path(inputs["image"], ctx))
    img = ImageOps.exif_transpose(img)
    mask = ImageOps.invert(img.getchannel("A")) if "A" in img.getbands() else Image.new("L", (64, 64), 0)
    return ([img.convert("RGB")], [mask]), None


def empty_image(inputs: dict[str, Any], ctx: NodeContext) -> NodeResult:
    color = int(inputs["color"])
    rgb = ((color >> 16) & 0xFF, (color >> 8) & 0xFF, color & 0xFF)
    size = (int(inputs["width"]), int(inputs["height"]))
    return ([Image.new("RGB", size, rgb) for _ in range(int(inputs["batch_size"]))],), None


def image_scale(inputs: dict[str, Any], ctx: NodeContext) -> NodeResult:
    out = []
    for img in inputs["image"]:
        width, height = int(inputs["width"]), int(inputs["height"])
        if width == 0 and height == 0:
            out.append(img)
            continue
        if width == 0:
            width = max(1, round(img.width * height / img.height))
        if height == 0:
            height = max(1, round(img.height * width / img.width))
        if inputs["crop"] == "center":
            img = ImageOps.fit(img, (width, height), RESAMPLE[inputs["upscale_method"]])
        else:
            img = img.resize((width, height), RESAMPLE[inputs["upscale_method"]])
        out.append(img)
    return (out,), None


def repeat_image_batch(inputs: dict[str, Any], ctx: NodeContext) -> NodeResult:
    return (list(inputs["image"]) * int(inputs["amount"]),), None


def image_invert(inputs: dict[str, Any], ctx: NodeContext) -> NodeResult:
    return ([ImageOps.invert(img) for img in inputs["image"]],), None


def create_video(inputs: dict[str, Any], ctx: NodeContext) -> NodeResult:
    return (Video(list(inputs["images"]), float(inputs["fps"]), inputs.get("audio")),), None


def _next_save_path(prefix: str, base: Path) -> tuple[Path, str, str, int]:
    subfolder, _, stem = prefix.rpartition("/")
    folder = base / subfolder
    if base.resolve() not in (folder.resolve(), *folder.resolve().parents):
        raise ValueError(f"Saving image outside the output folder is not allowed. prefix: {prefix}")
    folder.mkdir(parents=True, exist_ok=True)
    pattern = re.compile(re.escape(stem) + r"_(\d+)_")
    counters = [int(m.group(1)) for p in folder.iterdir() if (m := pattern.match(p.name))]
    return folder, subfolder, stem, max(counters, default=0) + 1


def add_audio_stream(container: av.container.OutputContainer, audio: dict[str, Any]) -> Any:
    """An AAC stream for ComfyUI's AUDIO (`{"waveform": (channels, samples) or (1, channels, samples),
    "sample_rate"}`), added before anything is muxed (the header is written with the first packet)."""
    channels = np.asarray(audio["waveform"]).shape[-2]
    stream = container.add_stream("aac", rate=int(audio["sample_rate"]))
    stream.layout = "mono" if channels == 1 else "stereo"
    return stream


def encode_audio(container: av.container.OutputContainer, stream: Any, audio: dict[str, Any]) -> None:
    waveform = np.asarray(audio["waveform"], dtype=np.float32)
    if waveform.ndim == 3:  # ComfyUI's (batch, channels, samples)
        waveform = waveform[0]
    layout, rate = stream.layout.name, int(audio["sample_rate"])
    waveform = waveform[:1] if layout == "mono" else waveform[:2]
    chunk = 1024
    for start in range(0, waveform.shape[1], chunk):
        piece = np.ascontiguousarray(waveform[:, start : start + chunk])
        frame = av.AudioFrame.from_ndarray(piece, format="fltp", layout=layout)
        frame.sample_rate = rate
        frame.pts = start
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)


def save_video(inputs: dict[str, Any], ctx: NodeContext) -> NodeResult:
    if inputs["format"] not in ("auto", "mp4"):
        raise ValueError("Only MP4 format is supported for now")
    if inputs["codec"] not in ("auto", "h264"):
        raise ValueError("Only H264 codec is supported for now")
    video: Video = inputs["video"]
    folder, subfolder, stem, counter = _next_save_path(inputs["filename_prefix"], ctx.output_dir)
    filename = f"{stem}_{counter:05}_.mp4"
    path = folder / filename
    # Same calls as ComfyUI's VideoFromComponents.save_to: h264 (libx264), yuv420p, so an odd
    # frame size fails in avcodec_open2 exactly like the captured execution_error.
    with av.open(str(path), mode="w", options={"movflags": "use_metadata_tags"}) as container:
        container.metadata["prompt"] = json.dumps(ctx.prompt)
        stream = container.add_stream("h264", rate=Fraction(round(video.fps * 1000), 1000))
        stream.width, stream.height = video.frames[0].size
        stream.pix_fmt = "yuv420p"
        sound = add_audio_stream(container, video.audio) if video.audio is not None else None
        for frame in video.frames:
            for packet in stream.encode(av.VideoFrame.from_image(frame)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
        if sound is not None:
            encode_audio(container, sound, video.audio)
    return (), {
        "images": [{"filename": filename, "subfolder": subfolder, "type": "output"}],
        "animated": [True],
    }


def save_image(inputs: dict[str, Any], ctx: NodeContext) -> NodeResult:
    folder, subfolder, stem, counter = _next_save_path(inputs["filename_prefix"], ctx.output_dir)
    info = PngImagePlugin.PngInfo()
    info.add_text("prompt", json.dumps(ctx.prompt))
    results = []
    for offset, img in enumerate(inputs["images"]):
        filename = f"{stem}_{counter + offset:05}_.png"
        img.save(folder / filename, pnginfo=info, compress_level=4)
        results.append({"filename": filename, "subfolder": subfolder, "type": "output"})
    return (), {"images": results}


NODE_FUNCTIONS: dict[str, Callable[[dict[str, Any], NodeContext], NodeResult]] = {
    "LoadImage": load_image,
    "EmptyImage": empty_image,
    "ImageScale": image_scale,
    "RepeatImageBatch": repeat_image_batch,
    "ImageInvert": image_invert,
    "CreateVideo": create_video,
    "SaveVideo": save_video,
    "SaveImage": save_image,
}
