"""The agent's conform and master work without a server: per-shot segments cut frame-exactly from their
head handle, reused by content, joined in edit order with sample-exact sound; and the delivery check that
refuses a master that is not what was asked."""

from __future__ import annotations

import hashlib
import os
import shutil
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import imageio_ffmpeg
import pytest

from aipipe_shared.delivery import check_master, expected_master, probe_movie
from render_agent.cpu_jobs import CpuJobError
from render_agent.delivery_jobs import make_conform, trim_cache
from render_agent.delivery_master import make_master
from tests.support.aio import run as run_async
from tests.support.framecode import coded_movie, frames_of, read_code

EXE = imageio_ffmpeg.get_ffmpeg_exe()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def _copy(url: str, dest: Path, sha256: str | None, what: str) -> str:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(url, dest)
    return sha256 or _sha(dest)


def _shot(code: str, movie: Path, frames: int, source_in: int) -> dict[str, Any]:
    return {
        "code": code,
        "frames": frames,
        "source_in": source_in,
        "media": {"url": str(movie), "sha256": _sha(movie), "name": movie.name},
    }


def _conform(tmp: Path, job: str, params: dict[str, Any]) -> tuple[Path, dict[str, Any]]:
    heard: list[tuple[float, str]] = []
    files, report = run_async(
        make_conform(EXE, params, _copy, tmp / job, tmp / "cache", lambda p, s: heard.append((p, s)))
    )
    values = [p for p, _ in heard]
    assert values == sorted(values) and values[-1] == 1.0 and all(s for _, s in heard)  # progress only grows
    return files[0], report


def test_segments_are_cut_from_the_recorded_handle_and_reused_until_their_shot_changes(
    tmp_path: Path,
) -> None:
    a = coded_movie(tmp_path / "a.mp4", 100, 30, "24000/1001")
    b = coded_movie(tmp_path / "b.mp4", 200, 20, "24000/1001")
    params = {
        "name": "conform",
        "fps": "24000/1001",
        "width": 320,
        "height": 180,
        "shots": [_shot("A", a, 10, 7), _shot("B", b, 12, 3), _shot("A2", a, 5, 0)],
        "audio": {"tracks": [{"name": "reference", "clips": []}]},
    }
    movie, report = _conform(tmp_path, "one", params)
    assert (report["encoded"], report["reused"]) == (3, 0)
    codes = [read_code(f) for f in frames_of(movie)]
    assert codes == [*range(107, 117), *range(203, 215), *range(100, 105)]
    probe = probe_movie(movie)
    assert (probe["fps"], probe["frames"], probe["codec"]) == ("24000/1001", 27, "h264")
    # Sample-exact at 23.976: 27 frames are 27 * 1001 / 24000 s.
    with av.open(str(movie)) as container:
        sound = container.streams.audio[0]
        assert sound.duration * sound.time_base == Fraction(27 * 1001, 24000)

    params["shots"][1] = _shot("B", b, 12, 5)  # the second shot's cut moves two frames
    again, report = _conform(tmp_path, "two", params)
    assert (report["encoded"], report["reused"]) == (1, 2)
    assert [s["encoded"] for s in report["segments"]] == [False, True, False]
    assert [read_code(f) for f in frames_of(again)][10:22] == list(range(205, 217))


def test_a_movie_shorter_than_its_cut_fails_the_job_naming_the_shot(tmp_path: Path) -> None:
    short = coded_movie(tmp_path / "short.mp4", 1, 8)
    params = {
        "name": "c",
        "fps": "24",
        "width": 320,
        "height": 180,
        "shots": [_shot("SHT_0040", short, 10, 2)],
    }
    with pytest.raises(CpuJobError, match="shot SHT_0040: short.mp4 gives 6 frames from frame 2"):
        _conform(tmp_path, "job", params)


def test_a_master_that_is_not_what_was_asked_is_refused_with_each_difference(tmp_path: Path) -> None:
    movie = coded_movie(tmp_path / "m.mp4", 1, 24)
    probe = probe_movie(movie)  # h264, no colour tags, no sound
    problems = check_master(probe, expected_master("prores_hq", 320, 180, "24", 48, False, "pcm"))
    text = "; ".join(problems)
    assert "codec is 'h264', not 'prores'" in text and "frames is 24, not 48" in text
    assert "profile" in text and "color_primaries" in text and "it has no sound" in text


def test_a_master_from_the_conform_copies_its_picture_when_the_codec_is_the_same(tmp_path: Path) -> None:
    a = coded_movie(tmp_path / "a.mp4", 1, 20)
    conform, _ = _conform(
        tmp_path,
        "c",
        {"name": "c", "fps": "24", "width": 320, "height": 180, "shots": [_shot("A", a, 16, 2)]},
    )
    job = {
        "params": {"name": "m", "format": "h264", "fps": "24", "width": 320, "height": 180, "frames": 16},
        "parents": [{"outputs": [{"name": "c.mov", "url": str(conform), "sha256": None}]}],
    }
    files, report = run_async(make_master(EXE, job, _copy, tmp_path / "m", lambda _p, _s: None))
    assert report["copied_picture"] and report["probe"]["frames"] == 16
    assert report["probe"]["audio"][0]["codec"] == "aac"  # silence, but a sound track as deliveries need
    assert [read_code(f) for f in frames_of(files[0])] == list(range(3, 19))


def test_the_segment_cache_drops_the_least_recently_used_first(tmp_path: Path) -> None:
    for index in range(4):
        path = tmp_path / f"{index}.mov"
        path.write_bytes(b"x" * 100)
        os.utime(path, (1000 + index, 1000 + index))
    trim_cache(tmp_path, 250)
    assert sorted(p.name for p in tmp_path.glob("*.mov")) == ["2.mov", "3.mov"]


def test_an_edit_of_many_short_shots_is_cut_exactly_across_passes(tmp_path: Path) -> None:
    movies = [coded_movie(tmp_path / f"m{i}.mp4", 1000 * (i + 1), 140) for i in range(3)]
    shots = [_shot(f"S{i:03d}", movies[i % 3], 2, i) for i in range(130)]  # three passes, two at a time
    movie, report = _conform(
        tmp_path, "job", {"name": "c", "fps": "24", "width": 320, "height": 180, "shots": shots}
    )
    assert report["encoded"] == 130
    expected = [1000 * (i % 3 + 1) + i + k for i in range(130) for k in range(2)]
    assert [read_code(f) for f in frames_of(movie)] == expected


def test_a_short_movie_in_a_later_pass_stops_the_pass_beside_it_and_leaves_no_partial_segment(
    tmp_path: Path,
) -> None:
    movie = coded_movie(tmp_path / "m.mp4", 1, 70)
    short = coded_movie(tmp_path / "short.mp4", 1, 8)
    cuts = (
        [(2, i) for i in range(50)]
        + [(51 + i // 10, i % 10) for i in range(50)]
        + [(3, i) for i in range(20)]
    )
    shots = [_shot(f"S{i:03d}", movie, frames, source_in) for i, (frames, source_in) in enumerate(cuts)]
    # Passes of 50, two at a time: the quick first ends, the third starts beside the long second and fails.
    shots[110] = _shot("S110", short, 30, 2)
    params = {"name": "c", "fps": "24", "width": 320, "height": 180, "shots": shots}
    with pytest.raises(CpuJobError, match="shot S110: short.mp4 gives 6 frames from frame 2"):
        _conform(tmp_path, "job", params)
    assert len(list((tmp_path / "cache").glob("*.mov"))) == 50  # the first pass's; the second was stopped
    assert list((tmp_path / "job").rglob("*.mov")) == []  # and its parts are gone


def test_a_cut_used_twice_in_the_edit_is_encoded_once(tmp_path: Path) -> None:
    movie = coded_movie(tmp_path / "m.mp4", 500, 20)
    shots = [_shot("A", movie, 4, 3), _shot("B", movie, 5, 0), _shot("C", movie, 4, 3)]
    out, report = _conform(
        tmp_path, "job", {"name": "c", "fps": "24", "width": 320, "height": 180, "shots": shots}
    )
    assert (report["encoded"], report["reused"]) == (2, 1)
    again, report = _conform(
        tmp_path, "again", {"name": "c", "fps": "24", "width": 320, "height": 180, "shots": shots}
    )
    assert (report["encoded"], report["reused"]) == (0, 3)  # nothing changed: every segment from the cache
    assert [read_code(f) for f in frames_of(again)] == [read_code(f) for f in frames_of(out)]
    assert [read_code(f) for f in frames_of(out)] == [
        503,
        504,
        505,
        506,
        500,
        501,
        502,
        503,
        504,
        503,
        504,
        505,
        506,
    ]


def test_one_file_under_two_names_is_downloaded_once_and_used_by_both_shots(tmp_path: Path) -> None:
    movie = coded_movie(tmp_path / "m.mp4", 700, 12)
    twin = tmp_path / "same_bytes.mp4"
    shutil.copy(movie, twin)
    shots = [_shot("A", movie, 3, 0), _shot("B", twin, 3, 5)]
    out, _ = _conform(
        tmp_path, "job", {"name": "c", "fps": "24", "width": 320, "height": 180, "shots": shots}
    )
    assert [read_code(f) for f in frames_of(out)] == [700, 701, 702, 705, 706, 707]
    assert len(list((tmp_path / "job" / "inputs").iterdir())) == 1


def _tone(path: Path, seconds: float, hz: int) -> Path:
    import subprocess

    subprocess.run(
        [EXE, "-v", "error", "-y", "-f", "lavfi", "-i", f"sine=f={hz}:r=48000:d={seconds}", str(path)],
        check=True,
    )
    return path


def _sound(path: Path) -> tuple[Any, int]:
    import numpy as np

    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        samples = np.concatenate([f.to_ndarray() for f in container.decode(stream)], axis=1)
        return samples, int(stream.duration)


def test_a_master_of_a_picture_only_change_copies_the_sound_it_encoded_before(tmp_path: Path) -> None:
    import numpy as np

    a = coded_movie(tmp_path / "a.mp4", 100, 30)
    b = coded_movie(tmp_path / "b.mp4", 200, 30)
    tone = _tone(tmp_path / "ref.wav", 2.0, 440)
    clip = {"shot": 0, "url": str(tone), "sha256": _sha(tone), "name": "ref.wav", "offset_s": 0.0}
    params = {
        "name": "c",
        "fps": "24",
        "width": 320,
        "height": 180,
        "shots": [_shot("A", a, 20, 2), _shot("B", b, 16, 0)],
        "audio": {"tracks": [{"name": "reference", "clips": [clip]}]},
    }

    def master(job: str, conform: Path, **extra: Any) -> tuple[Path, dict[str, Any]]:
        spec = {
            "params": {"name": "m", "format": "h264", "fps": "24", "width": 320, "height": 180, "frames": 36}
            | extra,
            "parents": [{"outputs": [{"name": "c.mov", "url": str(conform), "sha256": None}]}],
        }
        files, report = run_async(
            make_master(EXE, spec, _copy, tmp_path / job, lambda _p, _s: None, tmp_path / "cache")
        )
        return files[0], report

    first, report = master("m1", _conform(tmp_path, "c1", params)[0])
    assert not report["reused_sound"] and report["probe"]["audio"][0]["codec"] == "aac"

    params["shots"][1] = _shot("B", b, 16, 4)  # a new cut of shot B: the picture changes, not the sound
    conform, _ = _conform(tmp_path, "c2", params)
    second, report = master("m2", conform)
    assert report["reused_sound"], report
    assert report["probe"]["frames"] == 36 and report["probe"]["audio"][0]["codec"] == "aac"
    assert [read_code(f) for f in frames_of(second)][20:] == list(range(204, 220))  # the new cut is in it
    before, after = _sound(first), _sound(second)
    assert after[1] == before[1] == 36 * 2000  # 1.5 s at 48 kHz, in the stream's duration
    assert np.array_equal(before[0], after[0])  # the same samples, to the sample

    # What the sound is made from changes: encoded again, not copied.
    _, report = master("m3", conform, slate={"lines": ["P"], "frames": 24})
    assert not report["reused_sound"] and report["probe"]["frames"] == 60
    clip["offset_s"] = 0.5
    _, report = master("m4", _conform(tmp_path, "c3", params)[0])
    assert not report["reused_sound"]
    assert len(list((tmp_path / "cache").glob("master_*.m4a"))) == 3
