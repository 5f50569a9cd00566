"""A master encoded from the conform (another codec, burn-ins, a slate, full range) is made shot by shot:
each shot's piece is kept in the agent's cache under what shows in it, and the pieces are joined by stream
copy. What a user checks: the pieced master is the whole encode's picture to the pixel (ProRes: burn-ins,
drop-frame timecode across a minute, frame numbers, the slate); a later master re-encodes only the shot that
changed (every shot after a change of length when timecode is burnt in); an H.265 master of pieces decodes
to the edit's frames; a conform that does not name its shots is encoded whole as before."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import av

from render_agent.delivery_jobs import CACHE_MAX_BYTES
from render_agent.delivery_master import make_master
from tests.support.aio import run as run_async
from tests.support.fonts import hangul_font_or_skip
from tests.support.framecode import coded_movie, frames_of, read_code
from tests.unit.test_conform import EXE, _conform, _copy, _shot

RATE = "30000/1001"
BURN_INS = {"shots": [], "timecode": "00:00:59;26", "frame": True}  # crosses 00:01:00;02 (;00 ;01 skipped)


def _edit(tmp: Path) -> dict[str, Any]:
    a = coded_movie(tmp / "a.mp4", 100, 30, RATE)
    b = coded_movie(tmp / "b.mp4", 200, 30, RATE)
    return {
        "name": "c",
        "fps": RATE,
        "width": 320,
        "height": 180,
        "shots": [_shot("A", a, 10, 2), _shot("B", b, 12, 0), _shot("C", a, 8, 20)],
    }


def _burn_shots(edit: dict[str, Any]) -> list[dict[str, Any]]:
    shots, at = [], 0
    for shot in edit["shots"]:
        shots.append({"code": f"SH_{shot['code']}", "start": at, "frames": shot["frames"]})
        at += shot["frames"]
    return shots


def _master(
    tmp: Path, job: str, conform: Path, cache: bool, keep: int = CACHE_MAX_BYTES, **params: Any
) -> tuple[Path, dict[str, Any]]:
    spec = {
        "params": {"name": "m", "fps": RATE, "width": 320, "height": 180} | params,
        "parents": [{"outputs": [{"name": "c.mov", "url": str(conform), "sha256": None}]}],
    }
    cache_dir = tmp / "cache" if cache else None
    heard: list[float] = []
    files, report = run_async(
        make_master(EXE, spec, _copy, tmp / job, lambda p, _s: heard.append(p), cache_dir, keep)
    )
    assert heard == sorted(heard) and heard[-1] == 1.0  # progress only grows
    return files[0], report


def _pixels(path: Path) -> list[bytes]:
    """Every frame's planes, as decoded (no conversion)."""
    with av.open(str(path)) as container:
        return [b"".join(bytes(plane) for plane in frame.planes) for frame in container.decode(video=0)]


def test_a_prores_master_made_shot_by_shot_is_the_whole_encode_to_the_pixel(tmp_path: Path) -> None:
    edit = _edit(tmp_path)
    conform, _ = _conform(tmp_path, "c1", edit)
    options = {
        "format": "prores_hq",
        "frames": 30,
        "slate": {"lines": ["NIGHT ALLEY", "Delivery 3"], "frames": 5},
        "burn_ins": BURN_INS | {"shots": _burn_shots(edit)},
    }
    pieced, report = _master(tmp_path, "m1", conform, cache=True, **options)
    assert report["pieces"] == {"encoded": 3, "reused": 0}
    whole, whole_report = _master(tmp_path, "w1", conform, cache=False, **options)
    assert whole_report["pieces"] is None
    assert report["probe"]["frames"] == whole_report["probe"]["frames"] == 35
    ours, theirs = _pixels(pieced), _pixels(whole)
    assert len(ours) == len(theirs) == 35
    differ = [index for index, (one, other) in enumerate(zip(ours, theirs, strict=True)) if one != other]
    assert differ == []  # the same picture, burn-ins and all, at every frame
    # The burn-ins are there (the frames differ from a master without them where they sit).
    plain, _ = _master(tmp_path, "p1", conform, cache=True, format="prores_hq", frames=30)
    assert _pixels(plain)[0] != ours[5]


def test_a_later_master_re_encodes_only_the_shot_that_changed(tmp_path: Path) -> None:
    edit = _edit(tmp_path)
    options = {"format": "prores_hq", "frames": 30, "burn_ins": BURN_INS | {"shots": _burn_shots(edit)}}
    _master(tmp_path, "m1", _conform(tmp_path, "c1", edit)[0], cache=True, **options)

    edit["shots"][1] = _shot("B", Path(edit["shots"][1]["media"]["url"]), 12, 6)  # B's cut moves, same length
    conform, _ = _conform(tmp_path, "c2", edit)
    second, report = _master(tmp_path, "m2", conform, cache=True, **options)
    assert report["pieces"] == {"encoded": 1, "reused": 2}
    whole, _ = _master(tmp_path, "w2", conform, cache=False, **options)
    assert _pixels(second) == _pixels(whole)
    assert [read_code(f) for f in frames_of(second)][10:22] == list(range(206, 218))

    # A's cut gets longer: with timecode burnt in every later shot is somewhere else in the edit.
    edit["shots"][0] = _shot("A", Path(edit["shots"][0]["media"]["url"]), 12, 2)
    conform, _ = _conform(tmp_path, "c3", edit)
    longer = options | {"frames": 32, "burn_ins": BURN_INS | {"shots": _burn_shots(edit)}}
    third, report = _master(tmp_path, "m3", conform, cache=True, **longer)
    assert report["pieces"] == {"encoded": 3, "reused": 0}
    # Without burn-ins only the changed shot is encoded again.
    _master(tmp_path, "m4", _conform(tmp_path, "c2b", {**edit, "shots": edit["shots"]})[0], cache=True,
            format="prores_hq", frames=32)  # fmt: skip
    edit["shots"][0] = _shot("A", Path(edit["shots"][0]["media"]["url"]), 14, 2)
    _, report = _master(tmp_path, "m5", _conform(tmp_path, "c4", edit)[0], cache=True,
                        format="prores_hq", frames=34)  # fmt: skip
    assert report["pieces"] == {"encoded": 1, "reused": 2}


def test_an_h265_master_of_pieces_decodes_to_the_edits_frames(tmp_path: Path) -> None:
    edit = _edit(tmp_path)
    conform, _ = _conform(tmp_path, "c1", edit)
    master, report = _master(tmp_path, "m1", conform, cache=True, format="h265", frames=30)
    assert report["pieces"] == {"encoded": 3, "reused": 0}
    assert (report["probe"]["codec"], report["probe"]["frames"]) == ("hevc", 30)
    codes = [read_code(f) for f in frames_of(master)]
    assert codes == [*range(102, 112), *range(200, 212), *range(120, 128)]


def test_a_conform_that_does_not_name_its_shots_is_encoded_whole(tmp_path: Path) -> None:
    conform, _ = _conform(tmp_path, "c1", _edit(tmp_path))
    untagged = tmp_path / "untagged.mov"  # as an agent before the picture tag wrote it
    subprocess.run(
        [EXE, "-v", "error", "-i", str(conform), "-map", "0", "-c", "copy", "-map_metadata", "-1",
         str(untagged)],
        check=True,
    )  # fmt: skip
    master, report = _master(tmp_path, "m1", untagged, cache=True, format="prores_hq", frames=30)
    assert report["pieces"] is None and report["probe"]["frames"] == 30
    assert not list((tmp_path / "cache").glob("master_*.mov"))
    assert [read_code(f) for f in frames_of(master)][:10] == list(range(102, 112))


def test_an_edit_of_many_short_shots_is_pieced_exactly_across_passes(tmp_path: Path) -> None:
    movie = coded_movie(tmp_path / "many.mp4", 0, 90, RATE)
    shots = [_shot(f"S{i}", movie, 2 + i % 3, i * 3) for i in range(19)]  # 19 pieces: three passes of 8
    edit = {"name": "c", "fps": RATE, "width": 320, "height": 180, "shots": shots}
    conform, _ = _conform(tmp_path, "c1", edit)
    frames = sum(shot["frames"] for shot in shots)
    options = {"format": "prores_hq", "frames": frames, "burn_ins": BURN_INS | {"shots": _burn_shots(edit)}}
    pieced, report = _master(tmp_path, "m1", conform, cache=True, **options)
    assert report["pieces"] == {"encoded": 19, "reused": 0}
    whole, _ = _master(tmp_path, "w1", conform, cache=False, **options)
    assert _pixels(pieced) == _pixels(whole)
    assert [read_code(f) for f in frames_of(pieced)] == [
        i * 3 + k for i in range(19) for k in range(2 + i % 3)
    ]


def test_a_slate_with_a_korean_project_name_is_drawn_in_hangul(tmp_path: Path) -> None:
    """The slate's lines (the project's name, often Korean) and burnt-in shot codes are drawn with a font
    that has Hangul: two names of the same length give two different slates. In DejaVu Sans (fontconfig's
    "Sans", what drawtext used) every Hangul syllable was the same empty box, so both slates were alike."""
    hangul_font_or_skip()
    conform, _ = _conform(tmp_path, "c1", _edit(tmp_path))
    slates = []
    for job, name in (("m1", "밤골목"), ("m2", "낮거리")):
        master, _ = _master(
            tmp_path, job, conform, cache=True, format="prores_hq", frames=30,
            slate={"lines": [name], "frames": 2},
        )  # fmt: skip
        slates.append(_pixels(master)[0])
    assert slates[0] != slates[1]


def test_the_cache_is_trimmed_to_its_size_after_a_master(tmp_path: Path) -> None:
    """The agent's segment_cache_gb holds for masters' pieces too (ProRes pieces are big): past it, the least
    recently used go, and a later master encodes what is gone."""
    conform, _ = _conform(tmp_path, "c1", _edit(tmp_path))
    _, report = _master(tmp_path, "m1", conform, cache=True, keep=1, format="prores_hq", frames=30)
    assert report["pieces"] == {"encoded": 3, "reused": 0}
    assert not list((tmp_path / "cache").glob("master_*.mov"))
    _, report = _master(tmp_path, "m2", conform, cache=True, format="prores_hq", frames=30)
    assert report["pieces"] == {"encoded": 3, "reused": 0}
    _, report = _master(tmp_path, "m3", conform, cache=True, format="prores_hq", frames=30)
    assert report["pieces"] == {"encoded": 0, "reused": 3}
