"""The proxy movie: one cached H.264 segment per shot (with its code burnt in), joined without re-encoding.

A segment's cache key covers everything that shows in it (media checksum, first frame used, length, rate,
size, burn-in text, encoder settings). A change to one shot therefore makes one new key and one encode;
every other segment is found in the cache and the join (`-f concat -c copy`) copies their packets.
All segments share codec, size, rate and time base, which is what a stream copy join needs.
A whole proxy's key (`edit_key`) is its segments' keys in order plus the join's recipe: a request for an edit
whose key a proxy already has is answered with that proxy (`jobs.py`), nothing is run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import subprocess
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import av
import imageio_ffmpeg

from aipipe_shared.delivery import BURN_IN_FONT

from ..spawned import niced
from ..storage.atomic import fsync_dir
from .timeline import EditShot

logger = logging.getLogger(__name__)

ENCODER = ("-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p", "-bf", "0")
ENCODER_VERSION = "4"  # bump when the segment recipe changes, so old cached segments are not reused
JOIN_VERSION = "1"  # bump when the join changes (`_join`), so no earlier proxy is given for a new request
SLATE_COLOUR = "0x1e2630"
MISSING_COLOUR = "0x5a1020"  # frames a movie shorter than the cut lacks: dark red, never its last frame held


class ProxyError(RuntimeError):
    """ffmpeg failed on one shot (named) or on the join."""


@dataclass(frozen=True)
class ProxySpec:
    """What every segment of one proxy shares."""

    fps_num: int
    fps_den: int
    width: int
    height: int
    font: str | None = None  # a font file for the burn-in; None: fontconfig's BURN_IN_FONT (Hangul)
    workers: int = 2
    timeout_s: float = 600.0
    nice: int = 0  # ffmpeg runs at this much more niceness than the server (requests come first)

    @property
    def rate(self) -> str:
        return f"{self.fps_num}/{self.fps_den}"

    @property
    def timescale(self) -> int:
        # every frame a whole number of ticks: 24000/1001 -> 1001 ticks of 1/24000 s
        return self.fps_num if self.fps_den != 1 else self.fps_num * 1000


@dataclass
class Segment:
    shot_id: str
    code: str
    frames: int
    key: str
    encoded: bool = False
    missing: int = 0  # frames of the cut the shot's movie does not have (shown as a red "missing" card)
    warning: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "shot_id": self.shot_id,
            "code": self.code,
            "frames": self.frames,
            "key": self.key,
            "encoded": self.encoded,
            "missing": self.missing,
            "warning": self.warning,
        }


@dataclass
class ProxyResult:
    segments: list[Segment] = field(default_factory=list)

    @property
    def encoded(self) -> int:
        return sum(1 for s in self.segments if s.encoded)

    @property
    def reused(self) -> int:
        return len(self.segments) - self.encoded

    @property
    def frames(self) -> int:
        return sum(s.frames for s in self.segments)


def burn_in_text(shot: EditShot) -> str:
    return f"{shot.code}  {shot.media_label}"


def segment_key(shot: EditShot, spec: ProxySpec) -> str:
    media = shot.media
    recipe = {
        "v": ENCODER_VERSION,
        "encoder": ENCODER,
        "media": (media.sha256 or media.relative) if media is not None and media.path is not None else None,
        "still": media.still if media is not None else None,
        "in": shot.source_in,
        "frames": shot.duration,
        "rate": spec.rate,
        "size": [spec.width, spec.height],
        "text": burn_in_text(shot),
        "font": spec.font,
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:32]


def edit_key(shots: list[EditShot], spec: ProxySpec) -> str:
    """The key of the proxy of `shots`: equal keys, the same movie (each segment's key covers what shows in
    it; the proxy has no sound)."""
    recipe = {"join": JOIN_VERSION, "segments": [segment_key(shot, spec) for shot in shots]}
    return hashlib.sha256(json.dumps(recipe).encode()).hexdigest()


def render_proxy(
    shots: list[EditShot],
    spec: ProxySpec,
    cache_dir: Path,
    output: Path,
    progress: Callable[[float], None] | None = None,
) -> ProxyResult:
    """Encode the segments missing from `cache_dir`, then join all of them into `output` (atomically)."""
    if not shots:
        raise ProxyError("the edit has no shots (all omitted or none made yet)")
    cache_dir.mkdir(parents=True, exist_ok=True)
    result = ProxyResult(
        [
            Segment(
                str(s.shot_id), s.code, s.duration, segment_key(s, spec), missing=s.missing, warning=s.warning
            )
            for s in shots
        ]
    )
    todo = [
        (shot, seg)
        for shot, seg in zip(shots, result.segments, strict=True)
        if not (cache_dir / f"{seg.key}.mp4").is_file()
    ]
    done = 0

    def encode(item: tuple[EditShot, Segment]) -> None:
        shot, seg = item
        _encode_segment(shot, spec, cache_dir / f"{seg.key}.mp4")
        seg.encoded = True

    with ThreadPoolExecutor(max_workers=max(1, spec.workers)) as pool:
        for _ in pool.map(encode, todo):
            done += 1
            if progress is not None:
                progress(0.95 * done / max(1, len(todo)))
    _join([cache_dir / f"{seg.key}.mp4" for seg in result.segments], output, spec)
    if progress is not None:
        progress(1.0)
    return result


def _encode_segment(shot: EditShot, spec: ProxySpec, target: Path) -> None:
    w, h = spec.width, spec.height
    with tempfile.TemporaryDirectory(prefix="aipipe-proxy-") as tmp:
        text_file = Path(tmp) / "burnin.txt"
        text_file.write_text(burn_in_text(shot), encoding="utf-8")
        media = shot.media
        fit = f"scale={w}:{h}:force_original_aspect_ratio=decrease,pad={w}:{h}:(ow-iw)/2:(oh-ih)/2,setsar=1"
        font = f"fontfile='{_escape(spec.font)}'" if spec.font else f"font='{BURN_IN_FONT}'"
        size = max(12, h // 18)
        text = (
            f"drawtext={font}:textfile='{_escape(str(text_file))}':fontsize={size}:fontcolor=white"
            f":box=1:boxcolor=black@0.55:boxborderw={size // 3}:x={size // 2}:y=h-th-{size}"
        )
        # Frames past a movie's end are a red card saying so, never its last frame held: a short version
        # must show in the cut (and is reported as a warning), not be padded silently.
        ends = shot.duration - shot.missing
        missing_file = Path(tmp) / "missing.txt"
        missing_file.write_text(f"MISSING FRAMES: {media.name if media else ''} ends here", encoding="utf-8")
        card = (
            f"drawtext={font}:textfile='{_escape(str(missing_file))}':fontsize={size}:fontcolor=white"
            f":x=(w-tw)/2:y=(h-th)/2:enable='gte(n,{ends})'"
        )
        if media is None or media.path is None or (not media.still and ends <= 0):
            # a slate; or a movie with no frame after its head handle: all of it the red card
            colour = SLATE_COLOUR if ends > 0 or media is None or media.path is None else MISSING_COLOUR
            inputs = ["-f", "lavfi", "-i", f"color=c={colour}:s={w}x{h}:r={spec.rate}"]
            chain = f"setsar=1,{card},{text}" if colour == MISSING_COLOUR else f"setsar=1,{text}"
        elif media.still:
            # one decode, one scale, one burn-in; the frame is then repeated (x264 codes repeats as skips)
            inputs = ["-framerate", spec.rate, "-i", str(media.path)]
            chain = f"{fit},{text},tpad=stop_mode=clone:stop={shot.duration}"
        else:
            inputs = ["-i", str(media.path)]
            chain = (
                f"fps={spec.rate},trim=start_frame={shot.source_in},setpts=PTS-STARTPTS,{fit},"
                f"tpad=stop_mode=add:stop={shot.duration}:color={MISSING_COLOUR},{card},{text}"
            )
        partial = target.with_name(f".{target.stem}.{os.getpid()}.{id(shot)}.mp4")
        command = [
            imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-v", "error", *inputs,
            "-vf", chain, "-frames:v", str(shot.duration), "-r", spec.rate, "-an", *ENCODER,
            "-video_track_timescale", str(spec.timescale), str(partial),
        ]  # fmt: skip
        try:
            _run(niced(command, spec.nice), spec.timeout_s, f"shot {shot.code}")
            made = _frame_count(partial)
            if made != shot.duration:
                raise ProxyError(
                    f"shot {shot.code}: the segment has {made} frames, the cut needs {shot.duration}"
                )
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                partial.unlink()
            raise
        os.replace(partial, target)


def _join(parts: list[Path], output: Path, spec: ProxySpec) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.stem}.partial.mp4")
    with tempfile.TemporaryDirectory(prefix="aipipe-proxy-") as tmp:
        listing = Path(tmp) / "parts.txt"
        listing.write_text("".join(f"file '{_concat_quote(p)}'\n" for p in parts), encoding="utf-8")
        command = [
            imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-v", "error", "-f", "concat", "-safe", "0",
            "-i", str(listing), "-c", "copy", "-movflags", "+faststart", str(partial),
        ]  # fmt: skip
        try:
            _run(niced(command, spec.nice), spec.timeout_s, "the join")
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                partial.unlink()
            raise
    os.replace(partial, output)
    fsync_dir(output.parent)


def _frame_count(path: Path) -> int:
    """Frames in an mp4 we wrote, from its index (no decoding)."""
    with av.open(str(path)) as container:
        video = container.streams.video
        return int(video[0].frames) if video else 0  # ffmpeg writes no stream when nothing came through


def _run(command: list[str], timeout_s: float, what: str) -> None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise ProxyError(f"ffmpeg took longer than {timeout_s:.0f} s on {what}") from exc
    if done.returncode != 0:
        tail = (done.stderr or "").strip().splitlines()[-3:]
        raise ProxyError(f"ffmpeg failed on {what}: {' | '.join(tail) or f'exit {done.returncode}'}")


def _escape(value: str) -> str:
    """A value inside '…' in an ffmpeg filter graph."""
    return value.replace("\\", "\\\\").replace("'", "'\\\\\\''").replace(":", "\\:")


def _concat_quote(path: Path) -> str:
    return str(path).replace("'", "'\\''")
