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
The params and the picture's filters: render_agent.master_plan; the pieces: render_agent.master_pieces.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aipipe_shared.delivery import (
    AUDIO_CODECS,
    SAMPLE_RATE,
    check_master,
    expected_master,
    probe_movie,
    streams_and_tags,
)
from render_agent.cpu_jobs import CpuJobError
from render_agent.delivery_jobs import (
    CACHE_MAX_BYTES,
    PICTURE_TAG,
    SEGMENT_VERSION,
    SOUND_TAG,
    Download,
    Progress,
    _ffmpeg,
    recipe_key,
    trim_cache,
    written,
)
from render_agent.master_pieces import picture_pieces, plan_pieces
from render_agent.master_plan import MasterPlan, colour_tags, picture_filters, plan_master, slate_filters


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
    return cache_dir / f"master_{recipe_key(recipe)}.m4a"


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
        listing, encoded = await picture_pieces(
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
        graph.append(f"[0:v]{picture_filters(plan, 0, plan.frames)}[pic]")
        picture = "[pic]"
        if plan.slate_frames:
            graph.append(f"{slate_filters(plan)}[slate]")
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
    args += [*video_map, "-map", audio, *video_args, *colour_tags(plan), *audio_args]
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
