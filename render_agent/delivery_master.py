"""CPU job type `master`: a delivery master made from the conform (the output of the job's parent), then
probed (PyAV) before the job reports it: codec, profile, size, rate, frame count, sound, colour tags.

Params: `{"name", "format": "prores_hq"|"h264"|"h265", "fps", "width", "height", "frames",
"range": "limited"|"full", "audio_codec": "aac"|"pcm", "conform_profile", "slate": {"lines": […],
"frames"} | null, "burn_ins": {"shots": [{"code", "start", "frames"}], "timecode": "01:00:00:00" | null,
"frame": bool} | null}`. A master whose codec is the conform's, in limited range, without slate or
burn-ins, copies the conform's picture; any other is encoded from it. The conform's sound tracks are mixed
into one stereo track. An AAC sound is kept in the agent's cache under what it was made from (the conform's
`aipipe_sound` tag, the slate, the length): a master of a later conform whose sound did not change (a
picture-only change, the usual one) copies it instead of encoding the whole mix again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aipipe_shared.delivery import (
    AUDIO_CODECS,
    RANGES,
    SAMPLE_RATE,
    Profile,
    check_master,
    expected_master,
    probe_movie,
    sound_streams,
)
from render_agent.cpu_jobs import CpuJobError
from render_agent.delivery_jobs import (
    COLOUR,
    SEGMENT_VERSION,
    SOUND_TAG,
    Download,
    Frame,
    Progress,
    _count,
    _escape,
    _ffmpeg,
    _file_name,
    _frame,
    _profile,
    written,
)


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
        f"drawtext=font=Sans:text='{_escape(text)}':fontsize={size}:fontcolor=white"
        f":box=1:boxcolor=black@0.55:boxborderw={max(2, size // 3)}:x={x}:y={y}"
    )
    return out + (f":enable='{enable}'" if enable else "")


def _between(start: int, frames: int) -> str:
    return f"between(n,{start},{start + frames - 1})"


def _burn_ins(plan: MasterPlan) -> list[str]:
    size = max(12, plan.frame.height // 24)
    margin = size // 2
    filters = [
        _text_filter(
            str(shot.get("code", "")),
            size,
            str(margin),
            f"h-th-{margin}",
            _between(int(shot.get("start", 0)), int(shot.get("frames", 0))),
        )
        for shot in plan.burn_shots
    ]
    if plan.timecode:
        filters.append(
            f"drawtext=font=Sans:timecode='{_escape(plan.timecode)}':rate={plan.frame.rate_text}"
            f":fontsize={size}:fontcolor=white:box=1:boxcolor=black@0.55:boxborderw={max(2, size // 3)}"
            f":x=w-tw-{margin}:y=h-th-{margin}"
        )
    if plan.frame_numbers:
        filters.append(
            f"drawtext=font=Sans:text='%{{frame_num}}':start_number=1:fontsize={size}:fontcolor=white"
            f":box=1:boxcolor=black@0.55:boxborderw={max(2, size // 3)}:x=w-tw-{margin}:y={margin}"
        )
    return filters


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


async def encode_master(
    exe: str,
    plan: MasterPlan,
    conform: Path,
    out_dir: Path,
    on_frame: Callable[[int], None] | None = None,
    cache_dir: Path | None = None,
) -> tuple[Path, bool]:
    """The master from the conform: its picture copied or encoded, its tracks mixed into one stereo
    track in the asked codec, a slate before the first frame when asked. With `cache_dir`, an AAC sound
    made before from the same sound is copied (and one made now is kept there). Returns the master and
    whether its sound was copied from the cache."""
    out_dir.mkdir(parents=True, exist_ok=True)
    output = out_dir / f"{plan.name}{plan.profile.extension}"
    tracks, sound = await asyncio.to_thread(sound_streams, conform, SOUND_TAG)
    kept = sound_cache(plan, sound, cache_dir)
    reuse = kept is not None and kept.is_file()
    frame = plan.frame
    args = ["-i", str(conform)]
    graph: list[str] = []
    if reuse:
        args += ["-i", str(kept)]
        audio, audio_args = "1:a", ["-c:a", "copy"]
    else:
        graph.append(_mix(plan, tracks))
        audio = "[mix]"
        audio_args = [*AUDIO_CODECS[plan.audio_codec], "-ar", str(SAMPLE_RATE), "-ac", "2"]
    if plan.copies_picture:
        video_map, video_args = ["-map", "0:v"], ["-c:v", "copy"]
    else:
        rng = "full" if plan.full_range else "tv"
        chain = [f"[0:v]scale=out_range={rng},format={plan.profile.pix_fmt}", *_burn_ins(plan)]
        chain.append(f"setparams={COLOUR}:range={rng}")
        graph.append(",".join(chain) + "[pic]")
        picture = "[pic]"
        if plan.slate_frames:
            w, h = frame.width, frame.height
            size = max(14, h // 16)
            lines = [
                _text_filter(line, size, "(w-tw)/2", f"h/2-{len(plan.slate_lines) * size}+{i * size * 2}")
                for i, line in enumerate(plan.slate_lines)
            ]
            graph.append(
                f"color=c=black:s={w}x{h}:r={frame.rate_text},trim=end_frame={plan.slate_frames},"
                f"setsar=1,{','.join(lines)},scale=out_range={rng},format={plan.profile.pix_fmt},"
                f"setparams={COLOUR}:range={rng}[slate]"
            )
            graph.append(f"[slate]{picture}concat=n=2:v=1:a=0[picall]")
            picture = "[picall]"
            if not reuse:  # a kept sound has its slate's silence already
                graph.append(
                    f"anullsrc=r={SAMPLE_RATE}:cl=stereo,atrim=end_sample={frame.sample(plan.slate_frames)}"
                    "[hush]"
                )
                graph.append(f"[hush]{audio}concat=n=2:v=0:a=1[sound]")
                audio = "[sound]"
        video_map = ["-map", picture]
        video_args = [*plan.profile.args, "-r", frame.rate_text, "-frames:v", str(plan.total_frames)]
    if graph:
        args += ["-filter_complex", ";".join(graph)]
    args += [*video_map, "-map", audio, *video_args, *_colour_tags(plan), *audio_args]
    args += ["-video_track_timescale", str(frame.timescale), "-movflags", "+faststart"]
    with written(output) as partial:
        await _ffmpeg(exe, [*args, str(partial)], f"the {plan.format} master", on_frame)
    if kept is not None:
        if reuse:
            with contextlib.suppress(OSError):
                os.utime(kept)  # in use: the cache trim keeps recent ones
        else:
            await _keep_sound(exe, output, kept)
    return output, reuse


def _mix(plan: MasterPlan, tracks: int) -> str:
    """The filter making `[mix]`, the master's stereo sound: the conform's tracks mixed, or silence."""
    if tracks > 1:
        mix = "".join(f"[0:a:{i}]" for i in range(tracks))
        return f"{mix}amix=inputs={tracks}:normalize=0:duration=first,aformat=channel_layouts=stereo[mix]"
    if tracks == 1:
        return "[0:a:0]aformat=channel_layouts=stereo[mix]"
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
) -> tuple[list[Path], dict[str, Any]]:
    """Download the conform (the parent job's output), make the master, probe it; CpuJobError when the
    probe does not find what the master must be. `cache_dir`: where encoded sound is kept between jobs."""
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

    output, sound_reused = await encode_master(exe, plan, source, job_dir / "outputs", on_frame, cache_dir)
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
        "reused_sound": sound_reused,
        "encode_seconds": round(time.monotonic() - started, 3),
    }
    on_progress(1.0, "master done")
    return [output], report
