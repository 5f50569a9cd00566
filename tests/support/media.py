"""Real media for tests (H.264 made by ffmpeg, PNG by Pillow) and hand-built multipart bodies."""

from __future__ import annotations

import io
import subprocess
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import imageio_ffmpeg
from PIL import Image

BOUNDARY = "aipipe-test-boundary-7f3a9c"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def h264_mp4(path: Path, *, seconds: float = 2.0, size: str = "320x240", rate: str = "24000/1001") -> Path:
    """An H.264 mp4 of ffmpeg's test pattern, written by the real ffmpeg."""
    subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-y",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            f"testsrc2=size={size}:rate={rate}:duration={seconds}",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            str(path),
        ],
        check=True,
        timeout=60,
    )
    return path


def png_bytes(width: int = 64, height: int = 36, color: str | tuple[int, int, int] = "red") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, "PNG")
    return buffer.getvalue()


def multipart_body(
    fields: dict[str, str],
    files: list[tuple[str, Iterable[bytes]]],
    *,
    pause_s: float = 0.0,
) -> Iterator[bytes]:
    """A multipart/form-data body as a generator, so that httpx streams it (chunked, no Content-Length).

    `files` are (file name, chunks); `pause_s` sleeps between chunks to make a slow client.
    """
    for name, value in fields.items():
        yield (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for filename, chunks in files:
        yield (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        for chunk in chunks:
            yield chunk
            if pause_s:
                time.sleep(pause_s)
        yield b"\r\n"
    yield f"--{BOUNDARY}--\r\n".encode()
