"""A master job's params read and checked (`plan_master`), and the ffmpeg filters that make its picture from
the conform's: range and pixel format, burn-ins at a place in the edit (shot codes, record timecode, frame
numbers), the slate (render_agent.delivery_master)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aipipe_shared.delivery import AUDIO_CODECS, BURN_IN_FONT, RANGES, Profile
from aipipe_shared.timecode import timecode_after
from render_agent.cpu_jobs import CpuJobError
from render_agent.delivery_jobs import COLOUR, Frame, _count, _escape, _file_name, _frame, _profile


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


def picture_filters(plan: MasterPlan, start: int, frames: int) -> str:
    """The filters from the conform's picture to the master's, for the edit's frames [start,
    start + frames)."""
    rng = _range(plan)
    chain = [f"scale=out_range={rng},format={plan.profile.pix_fmt}", *_burn_ins(plan, start, frames)]
    chain.append(f"setparams={COLOUR}:range={rng}")
    return ",".join(chain)


def slate_filters(plan: MasterPlan) -> str:
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


def colour_tags(plan: MasterPlan) -> list[str]:
    return [
        "-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709",
        "-color_range", "pc" if plan.full_range else "tv",
    ]  # fmt: skip
