"""The edit as OTIO without a server: reel names, record start, drop-frame, segment cache keys."""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path

import pytest

from sync_server.editorial import exchange
from sync_server.editorial.jobs import proxy_size
from sync_server.editorial.proxy import ProxySpec, edit_key, segment_key
from sync_server.editorial.reels import REEL_LEN, reel_base, reel_names
from sync_server.editorial.timeline import (
    EditMedia,
    EditShot,
    TimecodeError,
    build_timeline,
    cuts_of,
    parse_record_start,
)


def _shot(code: str, duration: int, **media: object) -> EditShot:
    version = EditMedia(
        version_id=uuid.uuid4(),
        stage="render",
        number=3,
        name=f"{code}_render_v003.mp4",
        path=Path(f"/proj/{code}_render_v003.mp4"),
        relative=f"p/{code}/render/v003/{code}_render_v003.mp4",
        still=False,
        frames=200,
        sha256="a" * 64,
        handle_in=8,  # the movie holds an 8-frame head handle (its version's extent)
        rate_frames=200,
    )
    return EditShot(uuid.uuid4(), code, duration, handle_in=4, media=dataclasses.replace(version, **media))


def test_reel_names_fit_eight_ascii_characters_and_stay_unique() -> None:
    codes = ["SHT_0010", "A_VERY_LONG_SHOT_NAME_0020", "샷_0030", "샷", "SHT-0010", "SHT_0010 "]
    reels = reel_names(codes)
    assert reels[0] == "SHT0010"
    assert reels[1].endswith("0020") and len(reels[1]) == REEL_LEN
    assert reels[2] == "0030"
    assert reels[3] == "S4"  # nothing ASCII in the code: a reel from its position
    assert all(len(r) <= REEL_LEN and r.isascii() and r.isalnum() for r in reels)
    assert len(set(reels)) == len(reels)  # SHT-0010 and 'SHT_0010 ' would clash with SHT_0010
    assert reel_base("sht_0010") == "SHT0010"


def test_record_start_at_29_97_is_drop_frame_and_bad_timecodes_are_refused() -> None:
    assert parse_record_start("01:00:00:00", 30000, 1001).value == 107892  # 01:00:00;00
    assert parse_record_start("01:00:00:00", 24000, 1001).value == 86400
    assert parse_record_start("01:00:00:00", 25, 1).value == 90000
    with pytest.raises(TimecodeError, match="record start"):
        parse_record_start("one o'clock", 24, 1)


@pytest.mark.parametrize("rate", [(24000, 1001), (24, 1), (25, 1), (30000, 1001), (60000, 1001)])
def test_every_format_reads_back_the_same_frames(rate: tuple[int, int]) -> None:
    num, den = rate
    shots = [_shot("SHT_0010", 17), _shot("SHT_0020", 17983), _shot("SHT_0030", 1, still=True)]
    timeline = build_timeline("edit", shots, num, den)
    for fmt in exchange.FORMATS:
        back = exchange.read(exchange.write(timeline, fmt).text, fmt, num, den)
        cuts = cuts_of(back, num, den)
        assert [(c.name, c.record_in, c.duration, c.source_in) for c in cuts] == [
            ("SHT_0010", 0, 17, 8),
            ("SHT_0020", 17, 17983, 8),
            ("SHT_0030", 18000, 1, 0),
        ], fmt
        assert exchange.record_offset(back, num, den) == parse_record_start("01:00:00:00", num, den).value


def test_exporting_an_edl_leaves_the_timeline_as_it_was() -> None:
    timeline = build_timeline("edit", [_shot("SHT_0010", 24)], 24, 1)
    exchange.write(timeline, "cmx_3600")
    assert timeline.tracks[0].source_range is None


def test_an_unreadable_file_names_the_adapter_and_the_reason() -> None:
    with pytest.raises(exchange.ExchangeError, match="cmx_3600"):
        exchange.read("001  AX V C 00:00:00:00 00:00:01:00 01:00:00:00 01:00:05:00\n", "cmx_3600", 24, 1)


def test_a_segment_key_changes_only_with_what_shows_in_the_segment() -> None:
    spec = ProxySpec(24000, 1001, 960, 540)
    shot = _shot("SHT_0010", 48)
    key = segment_key(shot, spec)
    assert segment_key(dataclasses.replace(shot, revision=9, scene_code="SCN_001"), spec) == key
    for changed in (
        dataclasses.replace(shot, duration=47),
        _shot("SHT_0010", 48, handle_in=0),
        dataclasses.replace(shot, code="SHT_0011"),
        _shot("SHT_0010", 48, sha256="b" * 64),
        _shot("SHT_0010", 48, number=4),
    ):
        assert segment_key(changed, spec) != key
    assert segment_key(shot, dataclasses.replace(spec, height=720)) != key
    assert segment_key(shot, dataclasses.replace(spec, fps_num=24, fps_den=1)) != key


def test_an_edit_key_is_the_same_for_the_same_picture_and_changes_with_any_cut_order_or_setting() -> None:
    spec = ProxySpec(24000, 1001, 960, 540)
    a, b = _shot("SHT_0010", 48), _shot("SHT_0020", 17)
    key = edit_key([a, b], spec)
    again = [dataclasses.replace(a, revision=9), dataclasses.replace(b, scene_code="SCN_001")]
    assert edit_key(again, spec) == key  # nothing that shows changed
    assert edit_key([a, b], dataclasses.replace(spec, workers=8, timeout_s=5, nice=19)) == key
    for changed in (
        [a, dataclasses.replace(b, duration=16)],  # one frame
        [b, a],  # the order
        [a],  # a shot gone
        [a, _shot("SHT_0020", 17, sha256="b" * 64)],  # a new file
    ):
        assert edit_key(changed, spec) != key
    assert edit_key([a, b], dataclasses.replace(spec, height=720)) != key
    assert edit_key([a, b], dataclasses.replace(spec, font="/fonts/NotoSansCJK.ttc")) != key


def test_proxy_size_keeps_the_aspect_in_even_pixels() -> None:
    assert proxy_size(1920, 1080, 540) == (960, 540)
    assert proxy_size(2048, 858, 540) == (1288, 540)  # 1288.95 -> the nearest even width
    assert proxy_size(640, 360, 540) == (640, 360)  # never larger than the project
    assert proxy_size(1001, 999, 541) == (542, 540)  # odd height asked: one pixel less


def test_proxy_counts_encodes_and_names_a_shot_whose_movie_is_too_short(tmp_path: Path) -> None:
    import subprocess

    import av
    import imageio_ffmpeg

    from sync_server.editorial.proxy import ProxyError, render_proxy

    movie = tmp_path / "short.mp4"
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-v", "error", "-f", "lavfi", "-i",
         "testsrc2=size=160x90:rate=25:duration=1", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(movie)],
        check=True,
    )  # fmt: skip
    spec = ProxySpec(25, 1, 160, 90)
    short = dict(path=movie, relative="short.mp4", sha256="c" * 64, frames=25, rate_frames=25)
    shots = [
        _shot("SHT_0010", 40, **short),  # frames 8..24 of the movie, then 23 missing
        EditShot(uuid.uuid4(), "SHT_0020", 7),  # a slate
    ]
    result = render_proxy(shots, spec, tmp_path / "cache", tmp_path / "out.mp4")
    assert (result.encoded, result.reused, result.frames) == (2, 0, 47)
    assert [s.missing for s in result.segments] == [23, 0]
    assert "SHT_0010" in (result.segments[0].warning or "") and result.segments[1].warning is None
    with av.open(str(tmp_path / "out.mp4")) as container:
        assert sum(1 for _ in container.decode(video=0)) == 47
    again = render_proxy(shots, spec, tmp_path / "cache", tmp_path / "again.mp4")
    assert (again.encoded, again.reused) == (0, 2)
    # a movie with nothing after its head handle: the whole shot is the missing card, still its length
    too_late = [_shot("SHT_0030", 12, **{**short, "handle_in": 60})]
    late = render_proxy(too_late, spec, tmp_path / "cache", tmp_path / "late.mp4")
    assert late.segments[0].missing == 12
    with av.open(str(tmp_path / "late.mp4")) as container:
        assert sum(1 for _ in container.decode(video=0)) == 12
    # a shot ffmpeg cannot make fails the render naming it, and leaves nothing half-made
    with pytest.raises(ProxyError, match="SHT_0040"):
        render_proxy(
            [_shot("SHT_0040", 5, path=tmp_path / "not_a_movie.mp4", sha256="d" * 64)],
            spec,
            tmp_path / "cache",
            tmp_path / "bad.mp4",
        )
    assert not (tmp_path / "bad.mp4").exists()
    assert not [p for p in (tmp_path / "cache").iterdir() if p.name.startswith(".")]  # no half segment left


def test_a_proxy_burns_in_a_korean_shot_code_in_hangul(tmp_path: Path) -> None:
    """Two slates whose codes differ only in their Hangul syllables are two different pictures (in
    fontconfig's "Sans", DejaVu, every syllable was the same empty box)."""
    import av

    from sync_server.editorial.proxy import render_proxy
    from tests.support.fonts import hangul_font_or_skip

    hangul_font_or_skip()
    spec = ProxySpec(25, 1, 320, 180)
    pictures = []
    for code in ("밤골목_0010", "낮거리_0010"):
        out = tmp_path / f"{len(pictures)}.mp4"
        render_proxy([EditShot(uuid.uuid4(), code, 3)], spec, tmp_path / "cache", out)
        with av.open(str(out)) as container:
            pictures.append(next(container.decode(video=0)).to_ndarray(format="rgb24").tobytes())
    assert pictures[0] != pictures[1]
