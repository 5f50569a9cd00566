"""CPU job type `master`: a delivery master made from the conform (the output of the job's parent), then
probed (PyAV) before the job reports it: codec, profile, size, rate, frame count, sound, colour tags.

Params: `{"name", "format": "prores_hq"|"h264"|"h265", "fps", "width", "height", "frames",
"range": "limited"|"full", "audio_codec": "aac"|"pcm", "conform_profile", "slate": {"lines": […],
"frames"} | null, "burn_ins": {"shots": [{"code", "start", "frames"}], "timecode": "01:00:00:00" | null,
"frame": bool} | null}`. A master whose codec is the conform's, in limited range, without slate or
burn-ins, copies the conform's picture; any other is encoded from it, shot by shot where the conform says
what its shots are (its `aipipe_picture` tag): each shot's piece is kept in the agent's cache under what
shows in it (the conform's segment key, the filters with the burn-ins at that place in the edit, the
encoder), so the master of a later conform re-encodes only the shots that changed (all after a change of
length where timecode or frame numbers are burnt in) and joins the pieces by stream copy. The conform's
sound tracks are mixed into one stereo track. An AAC sound is kept in the agent's cache under what it was
made from (the conform's `aipipe_sound` tag, the slate, the length): a master of a later conform whose sound
did not change (a picture-only change, the usual one) copies it instead of encoding the whole mix again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from aipipe_shared.delivery import (
    AUDIO_CODECS,
    BURN_IN_FONT,
    RANGES,
    SAMPLE_RATE,
    Profile,
    check_master,
    expected_master,
    frame_count,
    probe_movie,
    streams_and_tags,
)
from aipipe_shared.timecode import timecode_after
from render_agent.cpu_jobs import CpuJobError
from render_agent.delivery_jobs import (
    CACHE_MAX_BYTES,
    COLOUR,
    PASSES,
    PICTURE_TAG,
    SEGMENT_VERSION,
    SOUND_TAG,
    Download,
    Frame,
    Progress,
    _all_or_none,
    _concat_list,
    _count,
    _escape,
    _ffmpeg,
    _file_name,
    _frame,
    _profile,
    trim_cache,
    written,
)

log = logging.getLogger(__name__)

PIECES_PER_PASS = 8  # shot pieces encoded by one ffmpeg pass: each seeks the conform on its own, and all
# of a pass encode at once (a decoder and an encoder each: bounded memory at 4K)


@dataclass(frozen=True)
class MasterPlan:
    name: str
    format: str
    profile: Profile
    frame: Frame
    frames: int
    full_range: bool
    audio_codec: str
    conform_profile: str
    slate_lines: list[str]
    slate_frames: int
    burn_shots: list[dict[str, Any]]
    timecode: str | None
    frame_numbers: bool

    @property
    def copies_picture(self) -> bool:
        return (
            self.format == self.conform_profile
            and not self.full_range
            and not self.slate_frames
            and not self.burn_shots
            and not self.timecode
            and not self.frame_numbers
        )

    @property
    def total_frames(self) -> int:
        return self.frames + self.slate_frames


def plan_master(job: dict[str, Any]) -> MasterPlan:
    """Read and check a master job's params; CpuJobError (not retryable) names the bad field."""
    params = job.get("params") or {}
    fmt = params.get("format")
    profile = _profile(fmt, "params.format")
    audio_codec = params.get("audio_codec", "aac")
    if audio_codec not in AUDIO_CODECS:
        raise CpuJobError(f"params.audio_codec: one of {', '.join(AUDIO_CODECS)}", retryable=False)
    if audio_codec == "pcm" and profile.extension == ".mp4":
        raise CpuJobError("params.audio_codec: PCM sound goes in a .mov (prores_hq)", retryable=False)
    rng = params.get("range", "limited")
    if rng not in RANGES:
        raise CpuJobError("params.range: limited or full", retryable=False)
    slate = params.get("slate") or {}
    lines = [str(line) for line in slate.get("lines") or []] if isinstance(slate, dict) else []
    slate_frames = _count(slate.get("frames", 0), "params.slate.frames") if lines else 0
    burn = params.get("burn_ins") or {}
    if not isinstance(burn, dict):
        raise CpuJobError("params.burn_ins: an object", retryable=False)
    timecode = burn.get("timecode")
    if timecode is not None and not isinstance(timecode, str):
        raise CpuJobError("params.burn_ins.timecode: the record start, e.g. 01:00:00:00", retryable=False)
    return MasterPlan(
        name=_file_name(params.get("name"), "params.name"),
        format=str(fmt),
        profile=profile,
        frame=_frame(params),
        frames=_count(params.get("frames"), "params.frames", 1),
        full_range=rng == "full",
        audio_codec=str(audio_codec),
        conform_profile=str(params.get("conform_profile", "h264")),
        slate_lines=lines,
        slate_frames=slate_frames,
        burn_shots=[s for s in burn.get("shots") or [] if isinstance(s, dict)],
        timecode=timecode,
        frame_numbers=bool(burn.get("frame")),
    )


def _text_filter(text: str, size: int, x: str, y: str, enable: str | None = None) -> str:
    out = (
        f"drawtext=font='{BURN_IN_FONT}':text='{_escape(text)}':fontsize={size}:fontcolor=white"
        f":box=1:boxcolor=black@0.55:boxborderw={max(2, size // 3)}:x={x}:y={y}"
    )
    return out + (f":enable='{enable}'" if enable else "")


def _between(start: int, frames: int) -> str:
    return f"between(n,{start},{start + frames - 1})"


def _burn_ins(plan: MasterPlan, start: int, frames: int) -> list[str]:
    """The burn-ins of the edit's frames [start, start + frames), for a picture whose first frame is `start`:
    each shot's code while it shows, the record timecode and the frame number (from 1) at that place."""
    size = max(12, plan.frame.height // 24)
    margin = size // 2
    filters = []
    for shot in plan.burn_shots:
        first, length = int(shot.get("start", 0)), int(shot.get("frames", 0))
        low, high = max(first, start), min(first + length, start + frames)
        if low < high:
            where = _between(low - start, high - low)
            filters.append(
                _text_filter(str(shot.get("code", "")), size, str(margin), f"h-th-{margin}", where)
            )
    if plan.timecode:
        try:
            at = timecode_after(plan.timecode, start, plan.frame.rate)
        except ValueError as exc:
            raise CpuJobError(f"params.burn_ins.timecode: {exc}", retryable=False) from exc
        filters.append(
            f"drawtext=font='{BURN_IN_FONT}':timecode='{_escape(at)}':rate={plan.frame.rate_text}:tc24hmax=1"
            f":fontsize={size}:fontcolor=white:box=1:boxcolor=black@0.55:boxborderw={max(2, size // 3)}"
            f":x=w-tw-{margin}:y=h-th-{margin}"
        )
    if plan.frame_numbers:
        filters.append(
            f"drawtext=font='{BURN_IN_FONT}':text='%{{frame_num}}':start_number={start + 1}:fontsize={size}"
            f":fontcolor=white:box=1:boxcolor=black@0.55:boxborderw={max(2, size // 3)}"
            f":x=w-tw-{margin}:y={margin}"
        )
    return filters


def _range(plan: MasterPlan) -> str:
    return "full" if plan.full_range else "tv"


def _picture_filters(plan: MasterPlan, start: int, frames: int) -> str:
    """The filters from the conform's picture to the master's, for the edit's frames [start,
    start + frames)."""
    rng = _range(plan)
    chain = [f"scale=out_range={rng},format={plan.profile.pix_fmt}", *_burn_ins(plan, start, frames)]
    chain.append(f"setparams={COLOUR}:range={rng}")
    return ",".join(chain)


def _slate_filters(plan: MasterPlan) -> str:
    """A source of the slate's frames, as the master's picture."""
    frame, rng = plan.frame, _range(plan)
    size = max(14, frame.height // 16)
    lines = [
        _text_filter(line, size, "(w-tw)/2", f"h/2-{len(plan.slate_lines) * size}+{i * size * 2}")
        for i, line in enumerate(plan.slate_lines)
    ]
    return (
        f"color=c=black:s={frame.width}x{frame.height}:r={frame.rate_text},trim=end_frame={plan.slate_frames},"
        f"setsar=1,{','.join(lines)},scale=out_range={rng},format={plan.profile.pix_fmt},"
        f"setparams={COLOUR}:range={rng}"
    )


def _colour_tags(plan: MasterPlan) -> list[str]:
    return [
        "-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709",
        "-color_range", "pc" if plan.full_range else "tv",
    ]  # fmt: skip


def sound_cache(plan: MasterPlan, sound: str | None, cache_dir: Path | None) -> Path | None:
    """Where the master's encoded sound is kept for the next master of the same sound: only AAC (PCM costs
    nothing to make), only from a conform that says what its sound is."""
    if plan.audio_codec != "aac" or not sound or cache_dir is None:
        return None
    recipe = {
        "v": SEGMENT_VERSION,
        "sound": sound,
        "codec": list(AUDIO_CODECS[plan.audio_codec]),
        "sample_rate": SAMPLE_RATE,
        "rate": plan.frame.rate_text,
        "frames": plan.frames,
        "slate": plan.slate_frames,
    }
    key = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:32]
    return cache_dir / f"master_{key}.m4a"


@dataclass(frozen=True)
class Piece:
    """One shot of the master's picture: the edit's frames [start, start + frames), made from the conform's
    segment `source` (its key) with `filters`, kept in the cache as `path`."""

    start: int
    frames: int
    source: str
    filters: str
    path: Path


def plan_pieces(plan: MasterPlan, picture_tag: str | None, cache_dir: Path | None) -> list[Piece] | None:
    """The master's picture as per-shot pieces, from the conform's picture tag ("key:frames,…"); None where
    it is to be encoded whole: no cache, no tag (a conform of an older agent) or one that does not add up
    to the master's length."""
    if cache_dir is None or not picture_tag:
        return None
    pieces, at = [], 0
    for entry in picture_tag.split(","):
        source, _, length = entry.partition(":")
        if not source or not length.isdigit() or int(length) < 1:
            log.warning("the conform's %s tag is not key:frames,…: the master is encoded whole", PICTURE_TAG)
            return None
        frames = int(length)
        filters = _picture_filters(plan, at, frames)
        recipe = {
            "v": SEGMENT_VERSION,
            "source": source,
            "frames": frames,
            "filters": filters,
            "encoder": list(plan.profile.args),
            "rate": plan.frame.rate_text,
            "size": [plan.frame.width, plan.frame.height],
        }
        key = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:32]
        pieces.append(Piece(at, frames, source, filters, cache_dir / f"master_{key}.mov"))
        at += frames
    if at != plan.frames:
        log.warning(
            "the conform's shots add up to %d frames, the master to %d: encoded whole", at, plan.frames
        )
        return None
    return pieces


def _piece_output(plan: MasterPlan, frames: int, path: Path) -> list[str]:
    return [
        *plan.profile.args, "-frames:v", str(frames), "-r", plan.frame.rate_text, "-an", *_colour_tags(plan),
        "-video_track_timescale", str(plan.frame.timescale), str(path),
    ]  # fmt: skip


async def _encode_pieces(
    exe: str,
    plan: MasterPlan,
    conform: Path,
    pieces: list[Piece],
    scratch: Path,
    on_frame: Callable[[int], None],
) -> None:
    """Encode `pieces` in one ffmpeg pass: each seeks the conform to its first frame (a key frame: every
    conform segment starts on one) and takes exactly its frames; each is written in the job's `scratch`,
    checked and then moved into the cache (never seen half written; two jobs making the same piece at once
    each move a whole one)."""
    args: list[str] = []
    graph: list[str] = []
    outputs: list[str] = []
    partials = []
    for index, piece in enumerate(pieces):
        # Half a frame before the piece's first frame: the first frame at or after it is that frame.
        seek = max(Fraction(0), (piece.start - Fraction(1, 2)) / plan.frame.rate)
        args += ["-ss", f"{float(seek):.6f}", "-i", str(conform)]
        graph.append(
            f"[{index}:v]trim=end_frame={piece.frames},setpts=PTS-STARTPTS,{piece.filters}[p{index}]"
        )
        partial = scratch / piece.path.name
        partials.append(partial)
        outputs += ["-map", f"[p{index}]", *_piece_output(plan, piece.frames, partial)]
    try:
        what = f"the {plan.format} master's shots at frames {', '.join(str(p.start) for p in pieces)}"
        await _ffmpeg(exe, [*args, "-filter_complex", ";".join(graph), *outputs], what, on_frame)
        for piece, partial in zip(pieces, partials, strict=True):
            made = await asyncio.to_thread(frame_count, partial)
            if made != piece.frames:
                raise CpuJobError(
                    f"the {plan.format} master's shot at frame {piece.start} has {made} frames, not "
                    f"{piece.frames}",
                    retryable=False,
                )
        for piece, partial in zip(pieces, partials, strict=True):
            os.replace(partial, piece.path)
    finally:
        for partial in partials:
            with contextlib.suppress(FileNotFoundError):
                partial.unlink()


async def _slate_piece(exe: str, plan: MasterPlan, cache_dir: Path, scratch: Path) -> Path:
    """The slate as a piece of the master's picture (kept in the cache like the shots)."""
    filters = _slate_filters(plan)
    recipe = {"v": SEGMENT_VERSION, "slate": filters, "encoder": list(plan.profile.args)}
    path = cache_dir / f"master_{hashlib.sha256(json.dumps(recipe).encode()).hexdigest()[:32]}.mov"
    if not path.is_file():
        partial = scratch / path.name
        args = ["-filter_complex", f"{filters}[slate]", "-map", "[slate]"]
        await _ffmpeg(exe, [*args, *_piece_output(plan, plan.slate_frames, partial)], "the slate")
        os.replace(partial, path)
    return path


async def _picture_pieces(
    exe: str,
    plan: MasterPlan,
    conform: Path,
    pieces: list[Piece],
    cache_dir: Path,
    scratch: Path,
    on_frame: Callable[[int], None] | None,
) -> tuple[Path, int]:
    """The master's picture joined from its pieces (those not in the cache encoded now, PASSES passes side
    by side), as a concat list; and how many pieces were encoded."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    scratch.mkdir(parents=True, exist_ok=True)
    # A piece cached, or made earlier in this master (a cut used twice), is not encoded.
    todo: list[Piece] = []
    keyed: set[Path] = set()
    for piece in pieces:
        if piece.path not in keyed and not piece.path.is_file():
            todo.append(piece)
        keyed.add(piece.path)
    made: dict[int, int] = {}
    gate = asyncio.Semaphore(PASSES)
    todo_frames = max(1, sum(piece.frames for piece in todo))

    async def one_pass(first: int) -> None:
        def counted(frames: int) -> None:  # told as a share of the master's frames: the work left
            made[first] = frames
            if on_frame is not None:
                on_frame(round(sum(made.values()) * plan.total_frames / todo_frames))

        async with gate:
            chunk = todo[first : first + PIECES_PER_PASS]
            await _encode_pieces(exe, plan, conform, chunk, scratch, counted)

    await _all_or_none([one_pass(first) for first in range(0, len(todo), PIECES_PER_PASS)])
    parts = [piece.path for piece in pieces]
    if plan.slate_frames:
        parts.insert(0, await _slate_piece(exe, plan, cache_dir, scratch))
    for path in parts:  # in use: the cache trim keeps recent ones
        with contextlib.suppress(OSError):
            os.utime(path)
    return _concat_list(parts, scratch / f"{plan.name}.pieces.txt"), len(todo)


async def encode_master(
    exe: str,
    plan: MasterPlan,
    conform: Path,
    out_dir: Path,
    on_frame: Callable[[int], None] | None = None,
    cache_dir: Path | None = None,
    cache_max_bytes: int = CACHE_MAX_BYTES,
) -> tuple[Path, dict[str, Any]]:
    """The master from the conform: its picture copied or encoded (shot by shot, reusing the pieces in
    `cache_dir`, where the conform names its shots), its tracks mixed into one stereo track in the asked
    codec, a slate before the first frame when asked. With `cache_dir`, an AAC sound made before from the
    same sound is copied (and one made now is kept there). Returns the master and what was reused:
    `{"reused_sound": bool, "pieces": {"encoded", "reused"} | None}`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    output = out_dir / f"{plan.name}{plan.profile.extension}"
    tracks, tags = await asyncio.to_thread(streams_and_tags, conform)
    kept = sound_cache(plan, tags.get(SOUND_TAG), cache_dir)
    reuse = kept is not None and kept.is_file()
    pieces = None if plan.copies_picture else plan_pieces(plan, tags.get(PICTURE_TAG), cache_dir)
    frame = plan.frame
    graph: list[str] = []
    counts: dict[str, int] | None = None
    if pieces is not None:  # input 0: the pieces joined (slate first), input 1: the conform (its sound)
        assert cache_dir is not None  # plan_pieces gives pieces only with a cache
        listing, encoded = await _picture_pieces(
            exe, plan, conform, pieces, cache_dir, out_dir.parent / "pieces", on_frame
        )
        counts = {"encoded": encoded, "reused": len(pieces) - encoded}
        args, sound_input = ["-f", "concat", "-safe", "0", "-i", str(listing), "-i", str(conform)], 1
        video_map, video_args = ["-map", "0:v"], ["-c:v", "copy"]
    elif plan.copies_picture:
        args, sound_input = ["-i", str(conform)], 0
        video_map, video_args = ["-map", "0:v"], ["-c:v", "copy"]
    else:  # encoded whole
        args, sound_input = ["-i", str(conform)], 0
        graph.append(f"[0:v]{_picture_filters(plan, 0, plan.frames)}[pic]")
        picture = "[pic]"
        if plan.slate_frames:
            graph.append(f"{_slate_filters(plan)}[slate]")
            graph.append(f"[slate]{picture}concat=n=2:v=1:a=0[picall]")
            picture = "[picall]"
        video_map = ["-map", picture]
        video_args = [*plan.profile.args, "-r", frame.rate_text, "-frames:v", str(plan.total_frames)]
    if reuse:
        args += ["-i", str(kept)]
        audio, audio_args = f"{sound_input + 1}:a", ["-c:a", "copy"]
    else:
        graph.append(_mix(plan, tracks, sound_input))
        audio = "[mix]"
        audio_args = [*AUDIO_CODECS[plan.audio_codec], "-ar", str(SAMPLE_RATE), "-ac", "2"]
        if plan.slate_frames:  # a kept sound has its slate's silence already
            graph.append(
                f"anullsrc=r={SAMPLE_RATE}:cl=stereo,atrim=end_sample={frame.sample(plan.slate_frames)}[hush]"
            )
            graph.append(f"[hush]{audio}concat=n=2:v=0:a=1[sound]")
            audio = "[sound]"
    if graph:
        args += ["-filter_complex", ";".join(graph)]
    args += [*video_map, "-map", audio, *video_args, *_colour_tags(plan), *audio_args]
    args += ["-video_track_timescale", str(frame.timescale), "-movflags", "+faststart"]
    with written(output) as partial:  # the pieces' progress was told while they were encoded
        await _ffmpeg(exe, [*args, str(partial)], f"the {plan.format} master", None if pieces else on_frame)
    if kept is not None:
        if reuse:
            with contextlib.suppress(OSError):
                os.utime(kept)  # in use: the cache trim keeps recent ones
        else:
            await _keep_sound(exe, output, kept)
    if cache_dir is not None and (pieces is not None or kept is not None):  # it grew: ProRes pieces are big
        await asyncio.to_thread(trim_cache, cache_dir, cache_max_bytes)
    return output, {"reused_sound": reuse, "pieces": counts}


def _mix(plan: MasterPlan, tracks: int, source: int = 0) -> str:
    """The filter making `[mix]`, the master's stereo sound: the conform's tracks (input `source`) mixed,
    or silence."""
    if tracks > 1:
        mix = "".join(f"[{source}:a:{i}]" for i in range(tracks))
        return f"{mix}amix=inputs={tracks}:normalize=0:duration=first,aformat=channel_layouts=stereo[mix]"
    if tracks == 1:
        return f"[{source}:a:0]aformat=channel_layouts=stereo[mix]"
    return f"anullsrc=r={SAMPLE_RATE}:cl=stereo,atrim=end_sample={plan.frame.sample(plan.frames)}[mix]"


async def _keep_sound(exe: str, master: Path, kept: Path) -> None:
    """Copy the master's encoded sound into the cache (stream copy: the same packets, the same priming)."""
    kept.parent.mkdir(parents=True, exist_ok=True)
    with written(kept) as partial:
        args = ["-i", str(master), "-map", "0:a", "-c", "copy", str(partial)]
        await _ffmpeg(exe, args, "keeping the sound")


async def make_master(
    exe: str,
    job: dict[str, Any],
    download: Download,
    job_dir: Path,
    on_progress: Progress,
    cache_dir: Path | None = None,
    cache_max_bytes: int = CACHE_MAX_BYTES,
) -> tuple[list[Path], dict[str, Any]]:
    """Download the conform (the parent job's output), make the master, probe it; CpuJobError when the
    probe does not find what the master must be. `cache_dir`: where shot pieces and encoded sound are kept
    between jobs (trimmed to `cache_max_bytes`)."""
    plan = plan_master(job)
    conform = next(
        (
            output
            for parent in job.get("parents") or []
            for output in parent.get("outputs") or []
            if str(output.get("name", "")).endswith(".mov")
        ),
        None,
    )
    if conform is None:
        raise CpuJobError("the master's parent (the conform job) has no .mov output", retryable=False)
    source = job_dir / "inputs" / "conform.mov"
    on_progress(0.02, "downloading the conform")
    await download(str(conform["url"]), source, conform.get("sha256"), "the conform")
    on_progress(
        0.1, f"encoding the {plan.format} master" if not plan.copies_picture else "copying the picture"
    )
    started = time.monotonic()
    stage = f"encoding the {plan.format} master" if not plan.copies_picture else "copying the picture"

    def on_frame(made: int) -> None:
        on_progress(0.1 + 0.85 * min(1.0, made / plan.total_frames), stage)

    output, reused = await encode_master(
        exe, plan, source, job_dir / "outputs", on_frame, cache_dir, cache_max_bytes
    )
    on_progress(0.95, "probing the master")
    probe = await asyncio.to_thread(probe_movie, output)
    expected = expected_master(
        plan.format,
        plan.frame.width,
        plan.frame.height,
        plan.frame.rate_text,
        plan.total_frames,
        plan.full_range,
        plan.audio_codec,
    )
    problems = check_master(probe, expected)
    if problems:
        raise CpuJobError(
            f"the {plan.format} master failed its check: {'; '.join(problems)}", retryable=False
        )
    report = {
        "format": plan.format,
        "probe": probe,
        "copied_picture": plan.copies_picture,
        "reused_sound": reused["reused_sound"],
        "pieces": reused["pieces"],
        "encode_seconds": round(time.monotonic() - started, 3),
    }
    on_progress(1.0, "master done")
    return [output], report
