"""Test movies whose every frame carries its frame number as a bar code (12 black/white bars across the top
two thirds), so a test can read back *which* frame a proxy, an export or a strip shows, not only how many."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

BITS = 12  # frame numbers up to 4095
CODE_HEIGHT = 2 / 3  # the bars fill the top two thirds; burn-ins sit in the bottom third


def coded_movie(
    path: Path, first: int, count: int, rate: str = "24", size: tuple[int, int] = (320, 180)
) -> Path:
    """An H.264 mp4 of `count` frames numbered `first`, `first + 1`, ... (PyAV / libx264)."""
    width, height = size
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(rate))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "12", "bf": "0"}
        for number in range(first, first + count):
            picture = av.VideoFrame.from_ndarray(_picture(number, width, height), format="rgb24")
            for packet in stream.encode(picture):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def _picture(number: int, width: int, height: int) -> np.ndarray:
    pixels = np.full((height, width, 3), 60, dtype=np.uint8)
    top = int(height * CODE_HEIGHT)
    bar = width // BITS
    for bit in range(BITS):
        if number >> (BITS - 1 - bit) & 1:
            pixels[:top, bit * bar : (bit + 1) * bar] = 255
        else:
            pixels[:top, bit * bar : (bit + 1) * bar] = 0
    return pixels


def read_code(rgb: np.ndarray) -> int:
    """The frame number a decoded frame (H x W x 3) shows."""
    height, width = rgb.shape[:2]
    y = int(height * CODE_HEIGHT / 2)
    bar = width / BITS
    number = 0
    for bit in range(BITS):
        x = int((bit + 0.5) * bar)
        number = number << 1 | int(rgb[y, x].mean() > 128)
    return number


def frames_of(path: Path) -> list[np.ndarray]:
    """Every frame of a movie, decoded (RGB)."""
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def is_missing_card(rgb: np.ndarray) -> bool:
    """The proxy's red "missing frames" card (0x5a1020): red well above green and blue, no white bars."""
    top = rgb[: int(rgb.shape[0] * CODE_HEIGHT / 2)]
    red, green, blue = (float(top[..., c].mean()) for c in range(3))
    return red > 60 and red > 2 * green and red > 1.5 * blue
