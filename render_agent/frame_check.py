"""Checking a video job's output against its input after the ComfyUI run: frame count, fps and size.

The template's sidecar says what to expect (`expect`, e.g. RIFE: frames `(n-1)*factor+1`, fps `x factor`);
`bind` writes it, with the role values filled in, into the graph's `_meta.aipipe` note. Here the input file
of the named role and every output video are probed with PyAV; a difference fails the job (kind `node`)
with a message naming what was expected and what came out.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from aipipe_shared.workflows import DERIVABLE_ROLES, note_of

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".mkv", ".webm", ".avi"})
FPS_TOLERANCE = 1e-3  # relative: SaveVideo stores the rate in 1/1000 steps (23.976 x 2 -> 47.952)


class OutputCheckFailed(Exception):
    """The output video is not what the template promises (frames, fps or size)."""


@dataclass(frozen=True)
class VideoProbe:
    frames: int
    fps: float
    width: int
    height: int

    def summary(self) -> dict[str, Any]:
        return {"frames": self.frames, "fps": round(self.fps, 3), "width": self.width, "height": self.height}


def probe_video(path: Path) -> VideoProbe:
    """Frames, rate and size of the first video stream; the frames counted from the packets when the
    container does not say. OutputCheckFailed when the file is no video."""
    try:
        return _probe(path)
    except (av.error.FFmpegError, OSError) as exc:
        raise OutputCheckFailed(f"cannot read {path.name} as a video: {exc}") from exc


def _probe(path: Path) -> VideoProbe:
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise OutputCheckFailed(f"{path.name} has no video stream")
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or Fraction(0)
        frames = stream.frames
        if not frames:
            frames = sum(1 for packet in container.demux(stream) if packet.size)
        return VideoProbe(int(frames), float(rate), stream.codec_context.width, stream.codec_context.height)


def expected(expect: Mapping[str, Any], source: VideoProbe | None) -> dict[str, Any]:
    """What the output must be: `{"frames": int, "fps": float, "size": (w, h)}` for the properties given,
    from the note's fixed `value` or from the measured input (`source`, needed then)."""
    out: dict[str, Any] = {}
    for prop, spec in expect.items():
        if "value" in spec:
            out[prop] = round(spec["value"]) if prop == "frames" else float(spec["value"])
            continue
        assert source is not None, "measuring an input needs its probe"
        factor = float(spec["multiply"])
        if prop == "frames":
            between = spec.get("between")
            out[prop] = round((source.frames - 1) * factor) + 1 if between else round(source.frames * factor)
        elif prop == "fps":
            out[prop] = source.fps * factor
        elif prop == "size":
            out[prop] = (round(source.width * factor), round(source.height * factor))
    return out


def differences(want: Mapping[str, Any], got: VideoProbe) -> list[str]:
    """`expected 95 frames, got 96` ... for every property that differs."""
    problems = []
    if "frames" in want and got.frames != want["frames"]:
        problems.append(f"expected {want['frames']} frames, got {got.frames}")
    if "fps" in want and abs(got.fps - want["fps"]) > FPS_TOLERANCE * want["fps"]:
        problems.append(f"expected {want['fps']:.3f} fps, got {got.fps:.3f}")
    if "size" in want and (got.width, got.height) != tuple(want["size"]):
        width, height = want["size"]
        problems.append(f"expected {width}x{height}, got {got.width}x{got.height}")
    return problems


def derive_values(graph: dict[str, Any], inputs: Mapping[str, Path]) -> dict[str, float] | None:
    """Set the roles the note says to derive (fps = the input video's fps x factor ...) into `graph` at
    their targets; returns what was set, None when nothing is derived. OutputCheckFailed when the input is
    missing or no video."""
    derive = (note_of(graph) or {}).get("derive")
    if not derive:
        return None
    probes: dict[str, VideoProbe] = {}
    values: dict[str, float] = {}
    for role, spec in derive.items():
        source = spec["from"]
        if source not in inputs:
            raise OutputCheckFailed(f"{role} is derived from input '{source}', which the job does not have")
        if source not in probes:
            probes[source] = probe_video(inputs[source])
        measured = getattr(probes[source], DERIVABLE_ROLES[role])
        value: float = measured * float(spec["multiply"])
        if spec.get("int"):
            value = round(value)
        for node_id, input_name in spec["targets"]:
            graph[node_id]["inputs"][input_name] = value
        values[role] = value
    return values


def check_outputs(
    graph: Mapping[str, Any], inputs: Mapping[str, Path], outputs: Sequence[Path]
) -> dict[str, Any] | None:
    """Check every output video against the graph's note; None when it asks for no check. Returns what was
    measured (for the provenance); raises OutputCheckFailed naming the file, the input, expected and got."""
    note = note_of(graph) or {}
    expect = note.get("expect")
    if not expect:
        return None
    roles = {spec["from"] for spec in expect.values() if "from" in spec}
    if len(roles) > 1:
        raise OutputCheckFailed(
            f"the output check measures several inputs ({sorted(roles)}); one is supported"
        )
    role = roles.pop() if roles else None
    if role is not None and role not in inputs:
        raise OutputCheckFailed(f"the output check measures input '{role}', which the job does not have")
    source = probe_video(inputs[role]) if role is not None else None
    want = expected(expect, source)
    videos = [p for p in outputs if p.suffix.lower() in VIDEO_SUFFIXES]
    if not videos:
        raise OutputCheckFailed("the workflow promises a video, but ComfyUI saved none")
    measured = []
    for path in videos:
        got = probe_video(path)
        problems = differences(want, got)
        if problems:
            where = ""
            if source is not None:
                where = (
                    f" (input {role}: {source.frames} frames at {source.fps:.3f} fps, "
                    f"{source.width}x{source.height})"
                )
            raise OutputCheckFailed(
                f"output {path.name} of workflow '{note.get('workflow', '?')}': "
                + "; ".join(problems)
                + where
            )
        measured.append({"file": path.name, **got.summary()})
    log.info("output check of %s passed: %s", note.get("workflow", "?"), measured)
    return {"input": source.summary() if source is not None else None, "outputs": measured}
