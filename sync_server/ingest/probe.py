"""What a scan is: resolution, fps, frame range, timecode, codec, duration, EXR attributes, colorspace;
a thumbnail; checksums; the frames that cannot be read. A damaged file is reported, never fatal."""

from __future__ import annotations

import hashlib
import logging
import mimetypes
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from PIL import Image

from aipipe_shared.framerate import fps_text

from ..versions import media
from . import exr
from .scan import Found

logger = logging.getLogger(__name__)
HASH_CHUNK = 1024 * 1024
AV_STILLS = frozenset({"exr", "dpx"})


@dataclass
class FileFacts:
    path: Path
    size: int
    sha256: str
    mime: str


@dataclass
class Probed:
    found: Found
    media: dict[str, Any] = field(default_factory=dict)
    files: list[FileFacts] = field(default_factory=list)
    corrupt: dict[str, str] = field(default_factory=dict)  # file name -> why
    thumbnail: Path | None = None
    error: str | None = None  # the whole scan is unusable (skipped)

    @property
    def usable(self) -> bool:
        return self.error is None


def probe(found: Found, colorspaces: dict[str, str], thumbnail_dest: Path, thumbnail_px: int) -> Probed:
    """Probe one scan; every failure is caught and reported on the result."""
    result = Probed(found)
    try:
        if found.kind == "movie":
            _movie(result, colorspaces)
        else:
            _sequence(result, colorspaces)
        if result.usable:
            _thumbnail(result, thumbnail_dest, thumbnail_px)
    except Exception as exc:  # a scan that breaks the prober is reported and skipped, never fatal
        logger.warning("scan probe failed", extra={"scan": found.name, "error": str(exc)})
        result.error = f"could not read {found.name}: {exc}"
    return result


def _facts(path: Path) -> FileFacts:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    mime = mimetypes.guess_type(path.name)[0] or ("image/x-exr" if path.suffix.lower() == ".exr" else "")
    return FileFacts(path, path.stat().st_size, digest.hexdigest(), mime or "application/octet-stream")


# -- movies -----------------------------------------------------------------------------------------------


def _movie(result: Probed, colorspaces: dict[str, str]) -> None:
    path = result.found.files[0]
    facts = media.probe(path, result.found.ext if result.found.ext in media.VIDEO_EXTENSIONS else "mov")
    if "error" in facts or facts.get("kind") != "video":
        result.error = facts.get("error") or f"{path.name} has no video stream"
        return
    facts["timecode"] = _movie_timecode(path)
    facts["colorspace"] = colorspaces.get(str(facts.get("codec", "")).lower()) or colorspaces.get(
        result.found.ext, ""
    )
    result.media = facts
    result.files = [_facts(path)]


def _movie_timecode(path: Path) -> str:
    with av.open(str(path)) as container:
        for source in (container.metadata, *(s.metadata for s in container.streams)):
            if source.get("timecode"):
                return str(source["timecode"])
    return ""


# -- image sequences --------------------------------------------------------------------------------------


def _sequence(result: Probed, colorspaces: dict[str, str]) -> None:
    found = result.found
    first: dict[str, Any] | None = None
    for path in found.files:
        try:
            facts = _frame(path, found.ext)
        except Exception as exc:  # one bad frame: reported, the rest of the sequence is still a scan
            result.corrupt[path.name] = str(exc) or type(exc).__name__
            continue
        if first is None:
            first = facts
        result.files.append(_facts(path))
    if first is None:
        result.error = f"no readable frame in {found.name} ({len(found.files)} files)"
        return
    attributes = first.pop("exr", None)
    fps = first.pop("fps", None)
    result.media = {
        "kind": "sequence",
        **first,
        "frames": len(found.frames) or 1,
        "first_frame": found.frames[0] if found.frames else None,
        "last_frame": found.frames[-1] if found.frames else None,
        "frame_range": found.frame_range,
        "missing_frames": found.missing,
        "padding": found.padding,
        "fps": fps,
        "timecode": (attributes or {}).get("timeCode", ""),
        "colorspace": _colorspace(attributes, found.ext, colorspaces),
    }
    if fps:
        span = (found.frames[-1] - found.frames[0] + 1) if found.frames else 1
        result.media["duration"] = round(float(span / Fraction(fps)), 6)
    if attributes is not None:
        result.media["exr"] = attributes


def _frame(path: Path, ext: str) -> dict[str, Any]:
    """The facts of one frame, reading no more than its header; raises when it is not a readable picture."""
    if path.stat().st_size == 0:
        raise ValueError("empty file")
    if ext == "exr":
        attributes = exr.header(path)
        size = exr.window_size(attributes)
        if size is None:
            raise ValueError("no data window in the EXR header")
        fps = attributes.get("framesPerSecond")
        return {
            "format": "EXR",
            "width": size[0],
            "height": size[1],
            "codec": str(attributes.get("compression", "")).replace("_COMPRESSION", "").lower(),
            "channels": attributes.get("channels", []),
            "fps": _fps(fps),
            "exr": attributes,
        }
    if ext in AV_STILLS:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            ctx = stream.codec_context
            return {"format": ext.upper(), "width": ctx.width, "height": ctx.height, "codec": ctx.name}
    with Image.open(path) as image:
        image.verify()  # checks the structure (and PNG checksums) without keeping the pixels
    with Image.open(path) as image:
        return {
            "format": image.format,
            "width": image.width,
            "height": image.height,
            "codec": image.format.lower(),
        }


def _fps(value: Any) -> str | None:
    if not value:
        return None
    rate = Fraction(str(value))
    return fps_text(rate.numerator, rate.denominator)


def _colorspace(attributes: dict[str, Any] | None, ext: str, colorspaces: dict[str, str]) -> str:
    for key in ("colorSpace", "oiio:ColorSpace", "colorspace", "ocio:colorspace"):
        if attributes and attributes.get(key):
            return str(attributes[key])
    return colorspaces.get(ext, "")


def _thumbnail(result: Probed, dest: Path, size: int) -> None:
    """From the middle readable frame (or the movie's middle frame)."""
    if result.found.kind == "movie":
        if media.thumbnail(result.found.files[0], "mov", dest, size):
            result.thumbnail = dest
        return
    readable = [f.path for f in result.files]
    middle = readable[len(readable) // 2]
    ext = result.found.ext
    made = media.thumbnail(
        middle, ext if ext in media.IMAGE_EXTENSIONS | media.AV_IMAGE_EXTENSIONS else "exr", dest, size
    )
    if made:
        result.thumbnail = dest
    else:  # the header was fine but the pixels are not: say so on the frame
        result.corrupt.setdefault(middle.name, "the frame's pixels cannot be decoded")
