"""What is in a published file (codec, size, exact fps, frames, duration) and a JPEG thumbnail of it.

Video and audio are read with PyAV (FFmpeg), still images with Pillow (OpenEXR through PyAV, which Pillow
cannot read). A file the probe cannot read is still published: its `media` says why, and it has no thumbnail.
"""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from PIL import Image

from aipipe_shared.framerate import fps_text

logger = logging.getLogger(__name__)

VIDEO_EXTENSIONS = frozenset({"mp4", "mov", "mkv", "webm"})
IMAGE_EXTENSIONS = frozenset({"png", "jpg", "jpeg", "tif", "tiff", "webp"})
AV_IMAGE_EXTENSIONS = frozenset({"exr"})
AUDIO_EXTENSIONS = frozenset({"wav"})
THUMBNAIL_NAME = ".thumbnail.jpg"
THUMBNAIL_QUALITY = 85
MAX_SEEK_DECODE = 1000  # frames decoded after a seek before settling for the last one seen


def probe(path: Path, ext: str) -> dict[str, Any]:
    """Media facts for one file; {} for formats that are not media (.blend, .json ...)."""
    try:
        if ext in VIDEO_EXTENSIONS or ext in AUDIO_EXTENSIONS:
            return _probe_av(path)
        if ext in IMAGE_EXTENSIONS:
            return _probe_image(path)
        if ext in AV_IMAGE_EXTENSIONS:
            return _probe_av_image(path)
    except Exception as exc:  # a damaged or exotic file: publish it, and say why it has no facts
        logger.warning("media probe failed", extra={"path": str(path), "error": str(exc)})
        return {"error": f"could not read the media: {exc}"}
    return {}


def thumbnail(path: Path, ext: str, dest: Path, size: int) -> bool:
    """Write a JPEG thumbnail (longest side `size`) of `path` to `dest`; False if it has no picture."""
    try:
        if ext in VIDEO_EXTENSIONS:
            image = _middle_frame(path)
        elif ext in IMAGE_EXTENSIONS:
            with Image.open(path) as source:
                source.draft("RGB", (size, size))  # JPEG: decode at a reduced scale
                image = _displayable(source)
        elif ext in AV_IMAGE_EXTENSIONS:
            with av.open(str(path)) as container:
                image = next(container.decode(video=0)).to_image()
        else:
            return False
    except Exception as exc:
        logger.warning("thumbnail failed", extra={"path": str(path), "error": str(exc)})
        return False
    if image is None:
        return False
    image.thumbnail((size, size))
    image.convert("RGB").save(dest, "JPEG", quality=THUMBNAIL_QUALITY)
    return True


# -- video and audio ---------------------------------------------------------------------------------


def _seconds(value: int | None, base: Fraction | None) -> float | None:
    if value is None or base is None:
        return None
    return float(value * base)


def _probe_av(path: Path) -> dict[str, Any]:
    with av.open(str(path)) as container:
        duration = container.duration / av.time_base if container.duration else None
        facts: dict[str, Any] = {"container": container.format.name}
        if container.streams.video:
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate
            duration = _seconds(stream.duration, stream.time_base) or duration
            frames = stream.frames or _count_frames(container, stream)
            facts.update(
                kind="video",
                codec=stream.codec_context.name,
                width=stream.codec_context.width,
                height=stream.codec_context.height,
                fps=fps_text(rate.numerator, rate.denominator) if rate else None,
                frames=frames,
                pixel_format=stream.codec_context.pix_fmt,
            )
        else:
            facts["kind"] = "audio"
        if container.streams.audio:
            audio = container.streams.audio[0]
            facts["audio"] = {
                "codec": audio.codec_context.name,
                "sample_rate": audio.codec_context.sample_rate,
                "channels": audio.codec_context.channels,
            }
        facts["duration"] = round(duration, 6) if duration is not None else None
        return facts


def _count_frames(container: Any, stream: Any) -> int:
    """Containers such as Matroska do not store a frame count: count the packets (no decoding)."""
    count = sum(1 for packet in container.demux(stream) if packet.size)
    container.seek(0)
    return count


def _middle_frame(path: Path) -> Image.Image | None:
    with av.open(str(path)) as container:
        if not container.streams.video:
            return None
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        base = stream.time_base
        duration = stream.duration or (
            int(container.duration / av.time_base / base) if container.duration and base else None
        )
        target = (stream.start_time or 0) + duration // 2 if duration and base else None
        if target is not None:
            container.seek(target, stream=stream, backward=True, any_frame=False)
        last = None
        for decoded, frame in enumerate(container.decode(stream)):
            last = frame
            if (
                target is None
                or (frame.pts is not None and frame.pts >= target)
                or decoded >= MAX_SEEK_DECODE
            ):
                break
        return last.to_image() if last is not None else None


# -- still images ------------------------------------------------------------------------------------


def _probe_image(path: Path) -> dict[str, Any]:
    with Image.open(path) as image:
        facts: dict[str, Any] = {
            "kind": "image",
            "format": image.format,
            "width": image.width,
            "height": image.height,
            "mode": image.mode,
        }
        frames = getattr(image, "n_frames", 1)
        if frames > 1:
            facts["frames"] = frames
        return facts


def _probe_av_image(path: Path) -> dict[str, Any]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return {
            "kind": "image",
            "format": stream.codec_context.name.upper(),
            "width": stream.codec_context.width,
            "height": stream.codec_context.height,
            "mode": stream.codec_context.pix_fmt,
        }


def _displayable(image: Image.Image) -> Image.Image:
    """8-bit RGB(A)/L from whatever the file holds (16-bit and float images are scaled, not clipped)."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        return image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    if image.mode == "F":
        return image.point(lambda value: value * 255).convert("L")
    if image.mode not in ("RGB", "RGBA", "L"):
        return image.convert("RGBA" if "A" in image.mode or "transparency" in image.info else "RGB")
    image.load()
    return image
