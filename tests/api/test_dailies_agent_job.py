"""The agent's dailies job on its own (render_agent/dailies_job.py): refused params name their field, and
the frames it reports are the reel's, also for a clip at another frame rate than the reel's."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import av
import imageio_ffmpeg
import pytest

from render_agent.cpu_jobs import CpuJobError
from render_agent.dailies_job import make_dailies, plan_dailies
from tests.support.media import h264_mp4, png_bytes


def _clip(index: int, kind: str, name: str | None) -> dict[str, Any]:
    return {
        "version_id": f"v{index}",
        "shot": f"SH{index:04d}",
        "kind": kind,
        "media_url": f"/media/{name}" if name else None,
        "media_name": name or "",
        "slate": [f"SHOT 샷  SH{index:04d}", "ARTIST 작업자  김리나"],
        "labels": {"shot": f"SH{index:04d}", "version": "render v001", "artist": "김리나", "verdict": ""},
    }


def _params(default_clips: list[dict[str, Any]], **overrides: Any) -> dict[str, Any]:
    return {
        "params": {
            "project": "AGT",
            "day": "2026-12-05",
            "timezone": "Asia/Seoul",
            "fps_num": 24,
            "fps_den": 1,
            "width": 426,
            "height": 240,
            "slate_frames": 10,
            "still_frames": 15,
            "reel_name": "reel.mp4",
            "sheet_name": "sheet.html",
            "clips": default_clips,
            **overrides,
        }
    }


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"clips": []}, "params.clips"),
        ({"clips": [{**_clip(1, "video", None)}]}, "params.clips.0.media_url"),
        ({"clips": [{**_clip(1, "film", "a.mp4")}]}, "params.clips.0.kind"),
        ({"clips": [{**_clip(1, "none", None), "slate": []}]}, "params.clips.0.slate"),
        ({"reel_name": "../reel.mp4"}, "params.reel_name"),
        ({"sheet_name": "sheet.pdf"}, "params.sheet_name"),
        ({"fps_num": 0}, "params.fps_num"),
    ],
)
def test_bad_params_are_refused_for_good_naming_the_field(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(CpuJobError) as refused:
        plan_dailies(_params([_clip(1, "none", None)], **overrides))
    assert str(refused.value).startswith(field + ":") and refused.value.retryable is False


def test_a_clip_at_another_rate_is_played_at_the_reels_rate_and_the_frames_add_up(tmp_path: Path) -> None:
    media = tmp_path / "media"
    media.mkdir()
    h264_mp4(media / "thirty.mp4", seconds=1, size="320x240", rate="30")  # 30 frames at 30 fps
    (media / "still.png").write_bytes(png_bytes(200, 300))  # portrait: pillarboxed
    plan = plan_dailies(
        _params([_clip(1, "video", "thirty.mp4"), _clip(2, "image", "still.png"), _clip(3, "none", None)])
    )
    stages: list[str] = []

    async def download(url: str, dest: Path, sha256: str | None, what: str) -> str:
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(media / Path(url).name, dest)
        return "unchecked"

    files, report = asyncio.run(
        make_dailies(
            imageio_ffmpeg.get_ffmpeg_exe(), plan, download, tmp_path / "work", lambda f, s: stages.append(s)
        )
    )
    assert [f.name for f in files] == ["reel.mp4", "sheet.html"]
    frames = [c["frames"] for c in report["clips"]]
    assert frames == [24, 15, 0]  # one second at the reel's 24 fps; the image held 15 frames; no picture
    with av.open(str(files[0])) as container:
        stream = container.streams.video[0]
        decoded = sum(1 for _ in container.decode(stream))
        assert (stream.codec_context.width, stream.codec_context.height) == (426, 240)
    assert decoded == report["reel_frames"] == sum(frames) + 3 * 10
    sheet = files[1].read_text(encoding="utf-8")
    assert sheet.count("data:image/jpeg;base64,") == 2 and "No picture · 그림 없음" in sheet
    assert "김리나" in sheet and stages[-1] == "dailies: joining the reel"
