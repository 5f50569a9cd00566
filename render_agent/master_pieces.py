"""A master's picture made shot by shot (render_agent.delivery_master): the conform's `aipipe_picture` tag
names its shots; each shot's piece is cut from the conform, encoded with the burn-ins of its place in the
edit, checked and kept in the agent's segment cache under what shows in it; the pieces (and the slate's)
are joined by stream copy, so a later master re-encodes only the shots whose piece is not kept."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from aipipe_shared.delivery import frame_count
from render_agent.cpu_jobs import CpuJobError
from render_agent.delivery_jobs import (
    PASSES,
    PICTURE_TAG,
    SEGMENT_VERSION,
    _all_or_none,
    _concat_list,
    _ffmpeg,
    recipe_key,
    uncached,
)
from render_agent.master_plan import MasterPlan, colour_tags, picture_filters, slate_filters

log = logging.getLogger(__name__)

PIECES_PER_PASS = 8  # shot pieces encoded by one ffmpeg pass: each seeks the conform on its own, and all
# of a pass encode at once (a decoder and an encoder each: bounded memory at 4K)


@dataclass(frozen=True)
class Piece:
    """One shot of the master's picture: the edit's frames [start, start + frames), made from the conform's
    segment (named in the cache key) with `filters`, kept in the cache as `path`."""

    start: int
    frames: int
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
        filters = picture_filters(plan, at, frames)
        recipe = {
            "v": SEGMENT_VERSION,
            "source": source,
            "frames": frames,
            "filters": filters,
            "encoder": list(plan.profile.args),
            "rate": plan.frame.rate_text,
            "size": [plan.frame.width, plan.frame.height],
        }
        pieces.append(Piece(at, frames, filters, cache_dir / f"master_{recipe_key(recipe)}.mov"))
        at += frames
    if at != plan.frames:
        log.warning(
            "the conform's shots add up to %d frames, the master to %d: encoded whole", at, plan.frames
        )
        return None
    return pieces


def _piece_output(plan: MasterPlan, frames: int, path: Path) -> list[str]:
    return [
        *plan.profile.args, "-frames:v", str(frames), "-r", plan.frame.rate_text, "-an", *colour_tags(plan),
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
    filters = slate_filters(plan)
    recipe = {"v": SEGMENT_VERSION, "slate": filters, "encoder": list(plan.profile.args)}
    path = cache_dir / f"master_{recipe_key(recipe)}.mov"
    if not path.is_file():
        partial = scratch / path.name
        args = ["-filter_complex", f"{filters}[slate]", "-map", "[slate]"]
        await _ffmpeg(exe, [*args, *_piece_output(plan, plan.slate_frames, partial)], "the slate")
        os.replace(partial, path)
    return path


async def picture_pieces(
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
    todo = [pieces[i] for i in uncached([piece.path for piece in pieces])]  # a cut used twice: made once
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
