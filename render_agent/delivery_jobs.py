"""CPU job type `conform`: the edit assembled from its shots' media with sound (docs/api.md, "Delivery");
the masters made from it are render_agent.delivery_master.

Params: `{"name", "fps": "24000/1001", "width", "height", "profile": "h264"|"h265"|"prores_hq",
"shots": [{"code", "frames", "source_in", "media": {"url", "sha256", "name"}}],
"audio": {"tracks": [{"name": "reference", "clips": [{"shot": 0, "url", "sha256", "name", "offset_s"}]},
…]}}`. Each shot becomes one segment, encoded in the profile's codec and cached in the agent's work folder
under a key made of everything that shows in it (media checksum, cut range, rate, size, encoder settings):
a conform after a one-shot change encodes one segment and joins the others by stream copy. Every segment
is a closed piece (no B-frames, starts on a key frame), which is what a join without re-encoding needs.
Sound: one PCM track per named track, each shot's clip laid at the shot's place for exactly its length.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path, PurePosixPath
from typing import Any

from aipipe_shared.delivery import PROFILES, SAMPLE_RATE, Profile, frame_count
from render_agent.cpu_jobs import CpuJobError, run_process

log = logging.getLogger(__name__)

CONFORM, MASTER = "conform", "master"
DELIVERY_JOB_TYPES = (CONFORM, MASTER)
SEGMENT_VERSION = "2"  # bump when a segment's recipe changes, so old cached segments are not reused
CHUNK = 50  # shots encoded by one ffmpeg pass (each is an open input, so a pass takes a bounded number)
PASSES = 2  # passes side by side: one's start (probing inputs) and end (checks) overlap the other's encode
SOUND_TAG = "aipipe_sound"  # the conform's tag naming its sound (sound_key)
# The conform's tag naming its picture, shot by shot: "key:frames,…" (each shot's segment key and length), so
# that a master encoded from it is made of per-shot pieces too and a later master re-encodes only the shots
# that changed (delivery_master).
PICTURE_TAG = "aipipe_picture"
CACHE_MAX_BYTES = 50 * 1024**3  # the segment cache is trimmed (oldest use first) past this (segment_cache_gb)
MISSING_COLOUR = "0x5a1020"  # the proxy's colour for frames a movie lacks
COLOUR = "color_primaries=bt709:color_trc=bt709:colorspace=bt709"

Download = Callable[[str, Path, str | None, str], Awaitable[str]]
Progress = Callable[[float, str], None]


# -- params -------------------------------------------------------------------------------------------


def _text(params: dict[str, Any], key: str, default: str | None = None) -> str:
    value = params.get(key, default)
    if not isinstance(value, str) or not value:
        raise CpuJobError(f"params.{key}: text is required", retryable=False)
    return value


def _count(value: Any, what: str, minimum: int = 0) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise CpuJobError(f"{what}: a whole number >= {minimum} is required", retryable=False)
    return value


@dataclass(frozen=True)
class Frame:
    """What every segment and master of one delivery shares."""

    rate: Fraction
    width: int
    height: int

    @property
    def rate_text(self) -> str:
        return f"{self.rate.numerator}/{self.rate.denominator}"

    @property
    def timescale(self) -> int:
        # every frame a whole number of ticks: 24000/1001 -> 1001 ticks of 1/24000 s
        num, den = self.rate.numerator, self.rate.denominator
        return num if den != 1 else num * 1000

    def sample(self, frame: int) -> int:
        """The audio sample at which `frame` starts."""
        return round(Fraction(frame) / self.rate * SAMPLE_RATE)


def _frame(params: dict[str, Any]) -> Frame:
    try:
        rate = Fraction(_text(params, "fps"))
    except (ValueError, ZeroDivisionError) as exc:
        raise CpuJobError("params.fps: a rate such as 24 or 24000/1001", retryable=False) from exc
    width, height = (
        _count(params.get("width"), "params.width", 2),
        _count(params.get("height"), "params.height", 2),
    )
    if rate <= 0 or width % 2 or height % 2:
        raise CpuJobError("params.width/height: even numbers, and a positive fps", retryable=False)
    return Frame(rate, width, height)


def _profile(name: Any, what: str) -> Profile:
    if name not in PROFILES:
        raise CpuJobError(f"{what}: one of {', '.join(PROFILES)}", retryable=False)
    return PROFILES[str(name)]


def _file_name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value or PurePosixPath(value).name != value or value.startswith("."):
        raise CpuJobError(f"{what}: a plain file name is required", retryable=False)
    return value


@dataclass(frozen=True)
class ShotCut:
    code: str
    frames: int
    source_in: int
    url: str
    sha256: str
    name: str


def _shots(params: dict[str, Any]) -> list[ShotCut]:
    shots = params.get("shots")
    if not isinstance(shots, list) or not shots:
        raise CpuJobError("params.shots: the edit's shots, in order, are required", retryable=False)
    out = []
    for index, shot in enumerate(shots):
        where = f"params.shots.{index}"
        media = shot.get("media") if isinstance(shot, dict) else None
        if not isinstance(media, dict):
            raise CpuJobError(f"{where}.media: the shot's media is required", retryable=False)
        out.append(
            ShotCut(
                code=str(shot.get("code") or f"#{index + 1}"),
                frames=_count(shot.get("frames"), f"{where}.frames", 1),
                source_in=_count(shot.get("source_in", 0), f"{where}.source_in"),
                url=_text(media, "url"),
                sha256=_text(media, "sha256"),
                name=_file_name(media.get("name"), f"{where}.media.name"),
            )
        )
    return out


# -- running ffmpeg -----------------------------------------------------------------------------------


async def _ffmpeg(
    exe: str, args: Sequence[str], what: str, on_frame: Callable[[int], None] | None = None
) -> None:
    """Run ffmpeg (never through a shell); `on_frame` hears the frames written so far (`-progress`).
    Cancelling the task kills ffmpeg."""
    progress = ["-progress", "pipe:1", "-nostats"] if on_frame is not None else []
    command = [exe, "-hide_banner", "-nostdin", "-v", "error", "-y", *progress, *args]
    log.debug("running %s", " ".join(command))

    def progress_line(line: bytes) -> None:
        if on_frame is not None and line.startswith(b"frame="):
            with contextlib.suppress(ValueError):
                on_frame(int(line[6:]))

    returncode, tail = await run_process(command, progress_line if on_frame is not None else None)
    if returncode != 0:
        raise CpuJobError(f"ffmpeg failed on {what}: {tail or f'exit {returncode}'}", retryable=False)


@contextlib.contextmanager
def written(path: Path) -> Iterator[Path]:
    """A hidden partial file beside `path` to write; renamed onto `path` when the block ends without an
    error, removed otherwise (a cache or output file is never seen half written)."""
    partial = path.with_name(f".{path.stem}.{os.getpid()}.partial{path.suffix}")
    try:
        yield partial
        os.replace(partial, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()


def _escape(value: str) -> str:
    """A value inside '…' in an ffmpeg filter graph."""
    return value.replace("\\", "\\\\").replace("'", "'\\\\\\''").replace(":", "\\:")


def _concat_list(parts: Sequence[Path], listing: Path) -> Path:
    quoted = (str(p).replace("'", "'\\''") for p in parts)
    listing.write_text("".join(f"file '{q}'\n" for q in quoted), encoding="utf-8")
    return listing


# -- the conform --------------------------------------------------------------------------------------


def recipe_key(recipe: Any) -> str:
    """The cache key of what a cached file is made from (its recipe, as JSON)."""
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:32]


def uncached(paths: Sequence[Path]) -> list[int]:
    """The indices of `paths` to make: not in the cache, and not made already for an earlier index (a cut
    used twice in the edit is made once)."""
    todo, seen = [], set()
    for index, path in enumerate(paths):
        if path not in seen and not path.is_file():
            todo.append(index)
        seen.add(path)
    return todo


def segment_key(shot: ShotCut, frame: Frame, profile: Profile) -> str:
    """The cache key of a shot's segment: everything that shows in it, nothing else."""
    recipe = {
        "v": SEGMENT_VERSION,
        "encoder": list(profile.args),
        "pix_fmt": profile.pix_fmt,
        "media": shot.sha256,
        "in": shot.source_in,
        "frames": shot.frames,
        "rate": frame.rate_text,
        "size": [frame.width, frame.height],
    }
    return recipe_key(recipe)


def track_key(clips: list[AudioClip], frames: list[int], frame: Frame) -> str:
    """The cache key of a whole sound track: its clips, the shots' lengths, the rate."""
    recipe = {
        "v": SEGMENT_VERSION,
        "clips": [[c.shot, c.sha256, c.offset_s] for c in clips],
        "frames": frames,
        "rate": frame.rate_text,
        "sample_rate": SAMPLE_RATE,
    }
    return "track_" + recipe_key(recipe)


def sound_key(tracks: list[tuple[str, Path]]) -> str:
    """What the conform's sound is, whole (its tracks' names and cache keys, in order): written into the
    conform as the `aipipe_sound` tag, so a master made from a later conform with the same sound reuses the
    sound it encoded (`delivery_master`)."""
    recipe = [[name, wav.stem] for name, wav in tracks]
    return "sound_" + recipe_key(recipe)


def _picture_chain(index: int, shot: ShotCut, frame: Frame, profile: Profile) -> str:
    w, h = frame.width, frame.height
    fit = (
        f"scale={w}:{h}:force_original_aspect_ratio=decrease,pad={w}:{h}:(ow-iw)/2:(oh-ih)/2,setsar=1,"
        f"format={profile.pix_fmt},setparams={COLOUR}:range=tv"
    )
    end = shot.source_in + shot.frames
    return (
        f"[{index}:v]fps={frame.rate_text},trim=start_frame={shot.source_in}:end_frame={end},"
        f"setpts=PTS-STARTPTS,tpad=stop_mode=add:stop={shot.frames}:color={MISSING_COLOUR},"
        f"trim=end_frame={shot.frames},{fit}[o{index}]"
    )


def _held(path: Path, rate: Fraction) -> int | None:
    """Frames a movie holds at `rate`, from its index (no decoding); None: it does not say."""
    import av

    with av.open(str(path)) as container:
        if not container.streams.video:
            return 0
        stream = container.streams.video[0]
        own = stream.average_rate or stream.guessed_rate
        if not stream.frames or not own:
            return None
        return int(stream.frames * rate / Fraction(own))


def _keyframes(starts: list[int], rate: Fraction) -> str:
    """-force_key_frames as times half a frame before each start: the first frame at or after each time is
    that start, whatever the rounding (an expression of hundreds of `eq(n,…)` terms is refused)."""
    return ",".join(f"{float(max(Fraction(0), (start - Fraction(1, 2)) / rate)):.6f}" for start in starts)


async def _encode_chunk(
    exe: str,
    items: list[tuple[ShotCut, Path, Path]],
    frame: Frame,
    profile: Profile,
    scratch: Path,
    on_frame: Callable[[int], None],
) -> None:
    """Encode consecutive shots in one ffmpeg pass, like a single encode of the edit: the shots are cut
    and joined in one filter graph, one encoder makes a key frame at each shot's first frame, and the
    segment muxer writes each shot to its own file there. Each shot's chain gives exactly its frames (a
    movie that ran short would show the missing-frames colour, never shift the next shot)."""
    for shot, media, _ in items:
        held = await asyncio.to_thread(_held, media, frame.rate)
        if held is not None and held - shot.source_in < shot.frames:
            raise CpuJobError(
                f"shot {shot.code}: {shot.name} gives {max(0, held - shot.source_in)} frames from frame "
                f"{shot.source_in}; the cut needs {shot.frames}",
                retryable=False,
            )
    inputs: list[str] = []
    chains: list[str] = []
    starts, at = [], 0
    for index, (shot, media, _) in enumerate(items):
        inputs += ["-threads", "2", "-i", str(media)]
        chains.append(_picture_chain(index, shot, frame, profile))
        starts.append(at)
        at += shot.frames
    joined = "".join(f"[o{i}]" for i in range(len(items)))
    chains.append(f"{joined}concat=n={len(items)}:v=1:a=0[edit]")
    scratch.mkdir(parents=True, exist_ok=True)
    outputs = [
        "-map", "[edit]", "-frames:v", str(at), "-r", frame.rate_text, "-an", *profile.args,
        "-color_range", "tv", "-forced-idr", "1", "-force_key_frames", _keyframes(starts, frame.rate),
    ]  # fmt: skip
    if len(items) > 1:
        outputs += [
            "-f", "segment", "-segment_format", "mov",
            "-segment_frames", ",".join(str(s) for s in starts[1:]), "-reset_timestamps", "1",
            "-segment_format_options", f"video_track_timescale={frame.timescale}",
            str(scratch / "%05d.mov"),
        ]  # fmt: skip
    else:
        outputs += ["-video_track_timescale", str(frame.timescale), str(scratch / "00000.mov")]
    codes = ", ".join(shot.code for shot, _, _ in items)
    try:
        graph = ";".join(chains)
        await _ffmpeg(exe, [*inputs, "-filter_complex", graph, *outputs], f"shots {codes}", on_frame)
        for index, (shot, _, _) in enumerate(items):
            part = scratch / f"{index:05d}.mov"
            made = await asyncio.to_thread(frame_count, part) if part.is_file() else 0
            if made != shot.frames:
                raise CpuJobError(
                    f"shot {shot.code}: its segment has {made} frames; the cut needs {shot.frames}",
                    retryable=False,
                )
        for index, (_, _, target) in enumerate(items):
            os.replace(scratch / f"{index:05d}.mov", target)
    finally:
        for part in scratch.glob("*.mov"):
            with contextlib.suppress(FileNotFoundError):
                part.unlink()


@dataclass(frozen=True)
class AudioClip:
    shot: int
    url: str
    sha256: str
    name: str
    offset_s: float


def _tracks(params: dict[str, Any], shots: int) -> list[tuple[str, list[AudioClip]]]:
    audio = params.get("audio") or {}
    tracks = audio.get("tracks") if isinstance(audio, dict) else None
    if tracks is None:
        return []
    if not isinstance(tracks, list):
        raise CpuJobError("params.audio.tracks: a list of tracks", retryable=False)
    out = []
    for t_index, track in enumerate(tracks):
        where = f"params.audio.tracks.{t_index}"
        clips = []
        for c_index, clip in enumerate(track.get("clips") or [] if isinstance(track, dict) else []):
            here = f"{where}.clips.{c_index}"
            shot = _count(clip.get("shot"), f"{here}.shot")
            if shot >= shots:
                raise CpuJobError(f"{here}.shot: no shot {shot} in the edit", retryable=False)
            offset = clip.get("offset_s", 0.0)
            if not isinstance(offset, int | float) or offset < 0:
                raise CpuJobError(f"{here}.offset_s: seconds >= 0", retryable=False)
            clips.append(
                AudioClip(
                    shot,
                    _text(clip, "url"),
                    _text(clip, "sha256"),
                    _file_name(clip.get("name"), f"{here}.name"),
                    float(offset),
                )
            )
        name = track.get("name") if isinstance(track, dict) else None
        out.append((str(name or f"track{t_index + 1}"), clips))
    return out


async def _build_track(
    exe: str,
    clips: list[tuple[AudioClip, Path]],
    starts: list[int],
    frames: list[int],
    frame: Frame,
    out: Path,
) -> None:
    """One stereo PCM track of the whole edit: each shot's clip from its offset for exactly the shot's
    length (padded with silence when shorter), silence where a shot has none. Sample-exact at any rate."""
    by_shot = {clip.shot: (clip, path) for clip, path in clips}
    if not by_shot:  # a silent track: one source, not one per shot
        samples = frame.sample(starts[-1] + frames[-1]) if starts else 0
        graph = f"anullsrc=r={SAMPLE_RATE}:cl=stereo,aformat=sample_fmts=s16,atrim=end_sample={samples}[out]"
        await _ffmpeg(
            exe, ["-filter_complex", graph, "-map", "[out]", "-c:a", "pcm_s16le", str(out)], out.name
        )
        return
    inputs: list[str] = []
    chains: list[str] = []
    for index, (start, length) in enumerate(zip(starts, frames, strict=True)):
        samples = frame.sample(start + length) - frame.sample(start)
        if index in by_shot:
            clip, path = by_shot[index]
            source = len(inputs) // 2
            inputs += ["-i", str(path)]
            offset = round(clip.offset_s * SAMPLE_RATE)
            chains.append(
                f"[{source}:a]aresample={SAMPLE_RATE},aformat=sample_fmts=s16:channel_layouts=stereo,"
                f"atrim=start_sample={offset}:end_sample={offset + samples},asetpts=N/SR/TB,"
                f"apad=whole_len={samples}[a{index}]"
            )
        else:
            chains.append(
                f"anullsrc=r={SAMPLE_RATE}:cl=stereo,aformat=sample_fmts=s16,"
                f"atrim=end_sample={samples}[a{index}]"
            )
    joined = "".join(f"[a{i}]" for i in range(len(starts)))
    graph = ";".join([*chains, f"{joined}concat=n={len(starts)}:v=0:a=1[out]"])
    await _ffmpeg(
        exe, [*inputs, "-filter_complex", graph, "-map", "[out]", "-c:a", "pcm_s16le", str(out)], out.name
    )


async def make_conform(
    exe: str,
    params: dict[str, Any],
    download: Download,
    job_dir: Path,
    cache_dir: Path,
    on_progress: Progress,
    cache_max_bytes: int = CACHE_MAX_BYTES,
) -> tuple[list[Path], dict[str, Any]]:
    """The conform movie (picture in the profile's codec, one PCM track per sound track) and a report;
    `cache_dir` is trimmed to `cache_max_bytes` after it."""
    frame = _frame(params)
    profile = _profile(params.get("profile", "h264"), "params.profile")
    name = _file_name(params.get("name"), "params.name")
    shots = _shots(params)
    tracks = _tracks(params, len(shots))
    cache_dir.mkdir(parents=True, exist_ok=True)
    keys = [segment_key(shot, frame, profile) for shot in shots]
    segments = [cache_dir / f"{key}.mov" for key in keys]
    todo = uncached(segments)  # the shots whose segment is not cached (a cut used twice: encoded once)
    inputs = job_dir / "inputs"
    fetched: dict[str, tuple[asyncio.Future[str], Path]] = {}

    async def fetch(url: str, sha256: str, file_name: str, what: str) -> Path:
        # One download per file, however many shots and tracks use it (under whatever name), even asked
        # for at once.
        if sha256 not in fetched:
            dest = inputs / f"{sha256[:16]}_{file_name}"
            fetched[sha256] = (asyncio.ensure_future(download(url, dest, sha256, what)), dest)
        loading, dest = fetched[sha256]
        await loading
        return dest

    starts, frames, at = [], [], 0
    for shot in shots:
        starts.append(at)
        frames.append(shot.frames)
        at += shot.frames

    async def picture() -> float:
        started = time.monotonic()
        frames_todo = sum(shots[i].frames for i in todo)
        made: dict[int, int] = {}  # frames written so far by each pass
        done: list[int] = []
        gate = asyncio.Semaphore(PASSES)
        on_progress(0.0, f"encoding {len(todo)} of {len(shots)} shots")

        async def one_pass(first: int) -> None:
            chunk = todo[first : first + CHUNK]
            async with gate:
                items = []
                for i in chunk:
                    shot = shots[i]
                    media = await fetch(shot.url, shot.sha256, shot.name, f"shot {shot.code}")
                    items.append((shot, media, segments[i]))
                stage = f"encoding shots {first + 1}-{first + len(chunk)} of {len(todo)}"

                def on_frame(frames_made: int) -> None:
                    made[first] = frames_made
                    on_progress(_share(sum(made.values()), frames_todo), stage)

                scratch = job_dir / "segments" / f"{first:05d}"
                await _encode_chunk(exe, items, frame, profile, scratch, on_frame)
            made[first] = sum(shots[i].frames for i in chunk)
            done.extend(chunk)
            on_progress(_share(sum(made.values()), frames_todo), f"encoded {len(done)} of {len(todo)} shots")

        await _all_or_none([one_pass(first) for first in range(0, len(todo), CHUNK)])
        return time.monotonic() - started

    async def sound() -> list[tuple[str, Path]]:
        wavs = []
        for track_name, clips in tracks:
            # A track is cached like a segment: a picture-only change reuses it whole.
            wav = cache_dir / f"{track_key(clips, frames, frame)}.wav"
            if not wav.is_file():
                paths = []
                for clip in clips:
                    what = f"{track_name} sound of shot {clip.shot}"
                    paths.append((clip, await fetch(clip.url, clip.sha256, clip.name, what)))
                with written(wav) as partial:
                    await _build_track(exe, paths, starts, frames, frame, partial)
            wavs.append((track_name, wav))
        return wavs

    # The sound is laid while the picture encodes: it needs none of it.
    encode_s, wavs = await asyncio.gather(picture(), sound())
    for path in [*segments, *(wav for _, wav in wavs)]:  # in use: the cache trim keeps recent ones
        with contextlib.suppress(OSError):
            os.utime(path)

    on_progress(0.93, "joining the segments")
    output = job_dir / "outputs" / f"{name}.mov"
    output.parent.mkdir(parents=True, exist_ok=True)
    listing = _concat_list(segments, job_dir / "segments.txt")
    sound = sound_key(wavs)
    # The tags go in from a metadata file: the picture tag of a 3,000-shot edit is longer than one command
    # argument may be (128 KiB).
    tags = job_dir / "conform.ffmeta"
    picture_tag = ",".join(f"{key}:{shot.frames}" for key, shot in zip(keys, shots, strict=True))
    tags.write_text(f";FFMETADATA1\n{SOUND_TAG}={sound}\n{PICTURE_TAG}={picture_tag}\n", encoding="utf-8")
    args = ["-f", "concat", "-safe", "0", "-i", str(listing)]
    for _, wav in wavs:
        args += ["-i", str(wav)]
    args += ["-f", "ffmetadata", "-i", str(tags), "-map_metadata", str(len(wavs) + 1), "-map", "0:v"]
    for index, (track_name, _) in enumerate(wavs):
        args += ["-map", f"{index + 1}:a", f"-metadata:s:a:{index}", f"title={track_name}"]
    args += ["-c:v", "copy", "-c:a", "pcm_s16le", "-video_track_timescale", str(frame.timescale)]
    args += ["-movflags", "use_metadata_tags", str(output)]
    await _ffmpeg(exe, args, "the join")
    total = sum(frames)
    made = await asyncio.to_thread(frame_count, output)
    if made != total:
        raise CpuJobError(f"the conform has {made} frames; the edit has {total}", retryable=False)
    await asyncio.to_thread(trim_cache, cache_dir, cache_max_bytes)
    report = {
        "frames": total,
        "shots": len(shots),
        "encoded": len(todo),
        "reused": len(shots) - len(todo),
        "segments": [
            {"code": shot.code, "key": key, "encoded": i in set(todo)}
            for i, (shot, key) in enumerate(zip(shots, keys, strict=True))
        ],
        "tracks": [track_name for track_name, _ in wavs],
        "sound_key": sound,
        "encode_seconds": round(encode_s, 3),
        "profile": params.get("profile", "h264"),
    }
    on_progress(1.0, "conform done")
    return [output], report


async def _all_or_none(steps: list[Awaitable[None]]) -> None:
    """Run `steps` at once; the first to fail cancels the others (their ffmpeg is killed) and is raised."""
    if not steps:  # every segment cached: nothing to encode (asyncio.wait refuses an empty set)
        return
    tasks = [asyncio.ensure_future(step) for step in steps]
    try:
        finished, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in finished:
            error = task.exception()
            if error is not None:
                raise error
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _share(frames_done: int, frames_todo: int) -> float:
    """The conform's progress while encoding (the join and its checks are the last tenth)."""
    return 0.9 * min(1.0, frames_done / max(1, frames_todo))


def trim_cache(cache_dir: Path, max_bytes: int) -> None:
    """Delete the segments used longest ago until the cache is under `max_bytes`."""
    entries = []
    for path in [*cache_dir.glob("*.mov"), *cache_dir.glob("*.wav"), *cache_dir.glob("*.m4a")]:
        with contextlib.suppress(FileNotFoundError):
            stat = path.stat()
            entries.append((stat.st_mtime, stat.st_size, path))
    total = sum(size for _, size, _ in entries)
    for _, size, path in sorted(entries):
        if total <= max_bytes:
            break
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        total -= size


def cache_dir_of(work_dir: Path) -> Path:
    """Where an agent keeps conform segments and sound, and masters' encoded sound, between jobs (kept
    when job folders are cleaned)."""
    return work_dir / "segments"
