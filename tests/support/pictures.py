"""Made-up pictures and control videos for tests: a colour gradient still, and a layout depth clip (a bright,
near bar sweeping left to right over black) as H.264 MP4 bytes."""

from __future__ import annotations

import io
from fractions import Fraction

import av
import numpy as np
from PIL import Image


def gradient(size: tuple[int, int]) -> Image.Image:
    """An RGB picture whose red rises left to right and green top to bottom (blue fixed): every pixel
    differs from its neighbours, so a filter's effect shows."""
    width, height = size
    x = np.linspace(0, 255, width)[None, :].repeat(height, 0)
    y = np.linspace(255, 0, height)[:, None].repeat(width, 1)
    return Image.fromarray(np.stack([x, y, np.full_like(x, 90)], axis=2).astype(np.uint8), "RGB")


def depth_sweep_mp4(frames: int, fps: int, size: tuple[int, int]) -> bytes:
    """A depth clip of `frames` frames at `fps`: a 16-pixel white (near) bar, one position per frame."""
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("h264", rate=Fraction(fps))
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        for index in range(frames):
            grey = np.zeros((size[1], size[0]), np.uint8)
            left = int(index * (size[0] - 16) / max(1, frames - 1))
            grey[:, left : left + 16] = 255
            frame = av.VideoFrame.from_ndarray(np.repeat(grey[..., None], 3, axis=2), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()
