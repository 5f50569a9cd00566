"""CPU job type `dailies`: a reel of a day's versions with a slate card before each, and a contact sheet.

Params (docs/api.md, "Dailies"; made by `sync_server.dailies.service`):
`{"project": "NIGHT", "day": "2026-12-05", "timezone": "Asia/Seoul", "fps_num": 24, "fps_den": 1,
"width": 960, "height": 540, "slate_frames": 48, "still_frames": 72, "reel_name": "…mp4",
"sheet_name": "…html", "clips": [{"version_id": "…", "shot": "SH0010", "kind": "video"|"image"|"none",
"media_url": "/api/versions/…/files/…", "media_sha256": "…", "slate": ["SHOT 샷  SH0010", …],
"labels": {"shot": "SH0010", "version": "render v003", "artist": "rina", "verdict": "approve", …}}]}`.

Each clip is one segment (a slate card of `slate_frames`, then the video's own frames at the reel's rate, or
an image held for `still_frames`, or nothing for a version without a picture), all encoded alike (H.264,
yuv420p, the reel's size and rate) and joined without re-encoding. The contact sheet is one HTML file with
the thumbnails inside (data: URIs), labelled in Korean and English. Only the ffmpeg imageio-ffmpeg ships is
used (the agent has no Pillow or PyAV).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import html
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from aipipe_shared.delivery import BURN_IN_FONT
from render_agent.cpu_jobs import STDERR_TAIL, CpuJobError

log = logging.getLogger(__name__)

DAILIES = "dailies"
KINDS = ("video", "image", "none")
SLATE_FONT = BURN_IN_FONT  # a fontconfig family with Hangul; fontconfig picks its nearest if absent
FRAME_COUNT = re.compile(r"frame=\s*(\d+)")
THUMB_WIDTH = 320
VERDICT_NAMES = {
    "approve": "Approved 승인",
    "reject": "Rejected 반려",
    "needs_changes": "Needs changes 수정 요청",
}
Download = Callable[[str, Path, str | None, str], Awaitable[str]]


@dataclass(frozen=True)
class DailiesClip:
    version_id: str
    shot: str
    kind: str
    media_url: str | None
    media_sha256: str | None
    media_name: str
    slate: list[str]
    labels: dict[str, str]


@dataclass(frozen=True)
class DailiesPlan:
    project: str
    day: str
    timezone: str
    fps_num: int
    fps_den: int
    width: int
    height: int
    slate_frames: int
    still_frames: int
    reel_name: str
    sheet_name: str
    clips: list[DailiesClip]

    @property
    def rate(self) -> str:
        return f"{self.fps_num}/{self.fps_den}"


def _whole(params: dict[str, Any], key: str, low: int, high: int) -> int:
    value = params.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise CpuJobError(f"params.{key}: a whole number from {low} to {high} is required", retryable=False)
    return value


def _text(params: dict[str, Any], key: str, where: str = "params") -> str:
    value = params.get(key)
    if not isinstance(value, str) or not value:
        raise CpuJobError(f"{where}.{key}: text is required", retryable=False)
    return value


def _file_name(params: dict[str, Any], key: str, suffix: str) -> str:
    name = _text(params, key)
    if PurePosixPath(name).name != name or not name.lower().endswith(suffix):
        raise CpuJobError(f"params.{key}: a plain file name ending {suffix} is required", retryable=False)
    return name


def plan_dailies(job: dict[str, Any]) -> DailiesPlan:
    """Read and check a dailies job's params; CpuJobError (not retryable) names the bad field."""
    params = job.get("params") or {}
    raw_clips = params.get("clips")
    if not isinstance(raw_clips, list) or not raw_clips:
        raise CpuJobError("params.clips: at least one version is required", retryable=False)
    clips: list[DailiesClip] = []
    for index, raw in enumerate(raw_clips):
        where = f"params.clips.{index}"
        if not isinstance(raw, dict):
            raise CpuJobError(f"{where}: must be an object", retryable=False)
        kind = raw.get("kind")
        if kind not in KINDS:
            raise CpuJobError(f"{where}.kind: one of {', '.join(KINDS)}", retryable=False)
        url = raw.get("media_url")
        if kind != "none" and (not isinstance(url, str) or not url):
            raise CpuJobError(f"{where}.media_url: a {kind} clip needs its file's URL", retryable=False)
        slate = raw.get("slate")
        if not isinstance(slate, list) or not slate or not all(isinstance(s, str) for s in slate):
            raise CpuJobError(f"{where}.slate: a list of text lines is required", retryable=False)
        labels = raw.get("labels") or {}
        if not isinstance(labels, dict):
            raise CpuJobError(f"{where}.labels: must be an object", retryable=False)
        sha = raw.get("media_sha256")
        clips.append(
            DailiesClip(
                version_id=_text(raw, "version_id", where),
                shot=_text(raw, "shot", where),
                kind=kind,
                media_url=url if kind != "none" else None,
                media_sha256=sha if isinstance(sha, str) else None,
                media_name=str(raw.get("media_name") or ""),
                slate=list(slate),
                labels={str(k): "" if v is None else str(v) for k, v in labels.items()},
            )
        )
    return DailiesPlan(
        project=_text(params, "project"),
        day=_text(params, "day"),
        timezone=str(params.get("timezone") or "UTC"),
        fps_num=_whole(params, "fps_num", 1, 240_000),
        fps_den=_whole(params, "fps_den", 1, 100_000),
        width=_whole(params, "width", 16, 7680) // 2 * 2,
        height=_whole(params, "height", 16, 4320) // 2 * 2,
        slate_frames=_whole(params, "slate_frames", 1, 10_000),
        still_frames=_whole(params, "still_frames", 1, 100_000),
        reel_name=_file_name(params, "reel_name", ".mp4"),
        sheet_name=_file_name(params, "sheet_name", ".html"),
        clips=clips,
    )


# -- ffmpeg ------------------------------------------------------------------------------------------------


def _escape(value: str) -> str:
    """A path or name inside a quoted filter option."""
    return value.replace("\\", "\\\\").replace("'", "'\\\\\\''").replace(":", "\\:")


async def _ffmpeg(exe: str, args: list[str]) -> str:
    """Run ffmpeg with `args`; returns its stderr. Cancelling the task kills ffmpeg."""
    command = [exe, "-hide_banner", "-nostdin", "-y", *args]
    log.debug("running %s", " ".join(command))
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    try:
        _, stderr = await process.communicate()
    except asyncio.CancelledError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise
    text = stderr.decode("utf-8", "replace")
    if process.returncode != 0:
        raise CpuJobError(
            f"ffmpeg exited with {process.returncode}: {text[-STDERR_TAIL:].strip()}", retryable=False
        )
    return text


def _encode_args(plan: DailiesPlan) -> list[str]:
    # Every segment alike, so that the concat demuxer can join them without re-encoding.
    return [
        "-an",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-crf",
        "23",
        "-pix_fmt",
        "yuv420p",
        "-r",
        plan.rate,
        "-video_track_timescale",
        str(plan.fps_num * 100),
    ]


def _fit(plan: DailiesPlan) -> str:
    w, h = plan.width, plan.height
    return (
        f"scale={w}:{h}:force_original_aspect_ratio=decrease,pad={w}:{h}:(ow-iw)/2:(oh-ih)/2:color=black,"
        f"setsar=1,fps={plan.rate},format=yuv420p"
    )


async def _slate(exe: str, plan: DailiesPlan, clip: DailiesClip, folder: Path, index: int) -> Path:
    size = max(14, plan.height // 16)
    filters = []
    for line, text in enumerate(clip.slate):
        text_file = folder / f"slate_{index:04d}_{line}.txt"
        text_file.write_text(text, encoding="utf-8")
        filters.append(
            f"drawtext=font='{SLATE_FONT}':textfile='{_escape(str(text_file))}':fontsize={size}:"
            f"fontcolor=white:x={plan.width // 12}:y={plan.height // 6 + line * int(size * 1.6)}"
        )
    output = folder / f"seg_{index:04d}_slate.mp4"
    await _ffmpeg(
        exe,
        [
            "-f",
            "lavfi",
            "-i",
            f"color=c=0x1e1e1e:s={plan.width}x{plan.height}:r={plan.rate}",
            "-frames:v",
            str(plan.slate_frames),
            "-vf",
            ",".join([*filters, "format=yuv420p"]),
            *_encode_args(plan),
            str(output),
        ],
    )
    return output


async def _picture(
    exe: str, plan: DailiesPlan, clip: DailiesClip, media: Path, folder: Path, index: int
) -> tuple[Path, int]:
    output = folder / f"seg_{index:04d}_clip.mp4"
    if clip.kind == "image":
        source = ["-loop", "1", "-i", str(media), "-frames:v", str(plan.still_frames)]
    else:
        source = ["-i", str(media)]
    stderr = await _ffmpeg(exe, [*source, "-vf", _fit(plan), *_encode_args(plan), str(output)])
    counts = FRAME_COUNT.findall(stderr)
    frames = int(counts[-1]) if counts else 0
    if frames <= 0 or not output.is_file():
        raise CpuJobError(
            f"clip {clip.shot} {clip.labels.get('version', '')}: ffmpeg wrote no frames", retryable=False
        )
    return output, frames


async def _thumbnail(exe: str, clip: DailiesClip, media: Path, folder: Path, index: int) -> str | None:
    """A JPEG of the clip's first frame as a data: URI; None when ffmpeg cannot make one."""
    output = folder / f"thumb_{index:04d}.jpg"
    try:
        await _ffmpeg(
            exe,
            ["-i", str(media), "-frames:v", "1", "-vf", f"scale={THUMB_WIDTH}:-2", "-q:v", "4", str(output)],
        )
    except CpuJobError as exc:
        log.warning("no thumbnail for %s: %s", clip.shot, exc)
        return None
    return "data:image/jpeg;base64," + base64.b64encode(output.read_bytes()).decode("ascii")


async def _join(exe: str, segments: list[Path], folder: Path, output: Path) -> None:
    listing = folder / "segments.txt"
    quote = "'\\''"  # a ' inside a quoted concat-list path
    listing.write_text(
        "".join(f"file '{segment.as_posix().replace(chr(39), quote)}'\n" for segment in segments),
        encoding="utf-8",
    )
    await _ffmpeg(
        exe,
        [
            "-f",
            "concat",
            "-safe",
            "0",
            "-i",
            str(listing),
            "-c",
            "copy",
            "-movflags",
            "+faststart",
            str(output),
        ],
    )


# -- the contact sheet -----------------------------------------------------------------------------------

SHEET_STYLE = """
body{font-family:system-ui,"Noto Sans CJK KR","Apple SD Gothic Neo","Malgun Gothic",sans-serif;
background:#161616;color:#eee;margin:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:24px 0 8px;border-bottom:1px solid #444}
p.meta{color:#aaa;margin:0 0 16px}
.clips{display:flex;flex-wrap:wrap;gap:16px}
figure.clip{margin:0;width:320px;background:#222;border-radius:6px;overflow:hidden}
figure.clip img{display:block;width:320px}
.nopic{height:180px;display:flex;align-items:center;justify-content:center;color:#888}
dl{display:grid;grid-template-columns:auto 1fr;gap:2px 10px;margin:8px 12px 12px;font-size:13px}
dt{color:#999}dd{margin:0}
"""
SHEET_FIELDS = (
    ("shot", "Shot", "샷"),
    ("version", "Version", "버전"),
    ("artist", "Artist", "작업자"),
    ("verdict", "Verdict", "판정"),
    ("made", "Made", "만든 시각"),
    ("frames", "Frames in reel", "릴 프레임"),
    ("comment", "Comment", "메모"),
)


def contact_sheet(plan: DailiesPlan, thumbs: list[str | None], frames: list[int]) -> str:
    """The contact sheet's HTML: one figure per clip, grouped by shot in the reel's order."""
    e = html.escape
    parts = [
        '<!DOCTYPE html>\n<html lang="ko">\n<head>\n<meta charset="utf-8">\n',
        f"<title>Dailies 데일리 {e(plan.project)} {e(plan.day)}</title>\n<style>{SHEET_STYLE}</style>\n",
        "</head>\n<body>\n",
        f"<h1>Dailies 데일리 — {e(plan.project)} — {e(plan.day)}</h1>\n",
        f'<p class="meta">{len(plan.clips)} versions 버전 · {e(plan.timezone)}</p>\n',
    ]
    current: str | None = None
    for index, clip in enumerate(plan.clips):
        if clip.shot != current:
            if current is not None:
                parts.append("</div>\n</section>\n")
            current = clip.shot
            parts.append(
                f'<section class="shot" data-shot="{e(clip.shot)}">\n<h2>Shot 샷 {e(clip.shot)}</h2>\n'
            )
            parts.append('<div class="clips">\n')
        parts.append(f'<figure class="clip" data-version-id="{e(clip.version_id)}">\n')
        thumb = thumbs[index]
        if thumb:
            parts.append(f'<img src="{thumb}" alt="{e(clip.shot)} {e(clip.labels.get("version", ""))}">\n')
        else:
            parts.append('<div class="nopic">No picture · 그림 없음</div>\n')
        parts.append("<figcaption>\n")
        parts.append(f'<pre class="slate">{e(chr(10).join(clip.slate))}</pre>\n<dl>\n')
        values = {**clip.labels, "frames": str(frames[index])}
        values["verdict"] = VERDICT_NAMES.get(values.get("verdict", ""), values.get("verdict") or "— 없음")
        for key, english, korean in SHEET_FIELDS:
            value = values.get(key, "")
            if key == "comment" and not value:
                continue
            parts.append(f'<dt>{english} · {korean}</dt><dd data-field="{key}">{e(value)}</dd>\n')
        parts.append("</dl>\n</figcaption>\n</figure>\n")
    if current is not None:
        parts.append("</div>\n</section>\n")
    parts.append("</body>\n</html>\n")
    return "".join(parts)


# -- the job ----------------------------------------------------------------------------------------------


async def make_dailies(
    exe: str,
    plan: DailiesPlan,
    download: Download,
    work: Path,
    on_stage: Callable[[float, str], None],
) -> tuple[list[Path], dict[str, Any]]:
    """Download each clip's media, encode slate + clip segments, join them; write the contact sheet.
    Returns the reel, the contact sheet and what the server records (frames per clip)."""
    segments_dir = work / "segments"
    segments_dir.mkdir(parents=True, exist_ok=True)
    out_dir = work / "outputs"
    out_dir.mkdir(parents=True, exist_ok=True)
    segments: list[Path] = []
    thumbs: list[str | None] = []
    frames: list[int] = []
    report: list[dict[str, Any]] = []
    total = len(plan.clips)
    for index, clip in enumerate(plan.clips):
        on_stage(
            index / (total + 1),
            f"dailies: {clip.shot} {clip.labels.get('version', '')} ({index + 1}/{total})",
        )
        segments.append(await _slate(exe, plan, clip, segments_dir, index))
        picture_frames = 0
        thumb: str | None = None
        if clip.kind != "none" and clip.media_url:
            suffix = PurePosixPath(clip.media_name).suffix or PurePosixPath(clip.media_url).suffix
            media = work / "inputs" / f"clip_{index:04d}{suffix}"
            await download(clip.media_url, media, clip.media_sha256, f"params.clips.{index}.media_url")
            segment, picture_frames = await _picture(exe, plan, clip, media, segments_dir, index)
            segments.append(segment)
            thumb = await _thumbnail(exe, clip, media, segments_dir, index)
        thumbs.append(thumb)
        frames.append(picture_frames)
        report.append(
            {"version_id": clip.version_id, "slate_frames": plan.slate_frames, "frames": picture_frames}
        )
    on_stage(total / (total + 1), "dailies: joining the reel")
    reel = out_dir / plan.reel_name
    await _join(exe, segments, segments_dir, reel)
    sheet = out_dir / plan.sheet_name
    tmp = sheet.with_name(f".{sheet.name}.tmp")
    tmp.write_text(contact_sheet(plan, thumbs, frames), encoding="utf-8")
    tmp.replace(sheet)
    reel_frames = sum(c["slate_frames"] + c["frames"] for c in report)
    summary = {"clips": report, "reel_frames": reel_frames, "reel": plan.reel_name, "sheet": plan.sheet_name}
    (work / "dailies_report.json").write_text(json.dumps(summary), encoding="utf-8")
    return [reel, sheet], summary
