"""Finding and probing scans on disk: gaps, odd padding, a corrupt frame, a corrupt movie; matching names."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from sync_server.ingest import match, probe
from sync_server.ingest.scan import find
from sync_server.ingest.service import _ranges
from sync_server.ingest.settings import IngestSettings

SETTINGS = IngestSettings()


def _pngs(folder: Path, pattern: str, frames: list[int]) -> None:
    for frame in frames:
        Image.new("RGB", (8, 6), "red").save(folder / pattern.format(frame))


def test_sequences_with_gaps_and_any_padding_are_found(tmp_path: Path) -> None:
    _pngs(tmp_path, "a.{:04d}.png", [1001, 1002, 1005])
    _pngs(tmp_path, "b_{}.png", [9, 10, 11])
    _pngs(tmp_path, "c.{:06d}.png", [1, 2])
    (tmp_path / "clip.mov").write_bytes(b"x")
    (tmp_path / "readme.txt").write_text("no")
    found = {f.name: f for f in find(tmp_path, SETTINGS.image_extensions, SETTINGS.movie_extensions)}
    assert set(found) == {"a.####.png", "b_#.png", "c.######.png", "clip.mov"}
    a = found["a.####.png"]
    assert a.frames == [1001, 1002, 1005] and a.missing == [1003, 1004] and a.padding == 4
    assert found["b_#.png"].frames == [9, 10, 11] and found["b_#.png"].padding == 1
    assert found["c.######.png"].padding == 6 and found["c.######.png"].stem == "c"
    assert found["clip.mov"].kind == "movie" and found["clip.mov"].stem == "clip"


def test_a_corrupt_frame_is_reported_and_the_rest_of_the_sequence_probed(tmp_path: Path) -> None:
    _pngs(tmp_path, "s.{:04d}.png", [1, 2, 4])
    (tmp_path / "s.0003.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    [seq] = find(tmp_path, SETTINGS.image_extensions, SETTINGS.movie_extensions)
    result = probe.probe(seq, SETTINGS.colorspaces, tmp_path / "t.jpg", 64)
    assert result.usable and list(result.corrupt) == ["s.0003.png"]
    assert [f.path.name for f in result.files] == ["s.0001.png", "s.0002.png", "s.0004.png"]
    assert result.media["width"] == 8 and result.media["frame_range"] == "1-4"
    assert result.thumbnail is not None and result.thumbnail.exists()


def test_a_corrupt_movie_is_skipped_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "bad.mov").write_bytes(b"\x00\x00\x00\x18ftypqt  " + b"junk" * 50)
    [bad] = find(tmp_path, SETTINGS.image_extensions, SETTINGS.movie_extensions)
    result = probe.probe(bad, SETTINGS.colorspaces, tmp_path / "t.jpg", 64)
    assert not result.usable
    assert result.error is not None and "could not read" in result.error


def test_missing_frames_read_as_ranges() -> None:
    assert _ranges([4, 5, 6, 9, 11, 12]) == "4-6, 9, 11-12"
    assert _ranges([]) == ""


def test_shot_codes_are_found_as_whole_words_or_by_pattern() -> None:
    matcher = match.ShotMatcher(["SHT_0010", "SHT_0100"])
    assert matcher.code_in("day1/sht_0100_plate.####.exr") == "SHT_0100"
    assert matcher.code_in("SHT_00100.exr") is None
    custom = match.ShotMatcher(["SH010"], r"(?i)shot-(?P<shot>sh\d+)")
    assert custom.code_in("vendor_shot-sh010_v2.mov") == "SH010"
    with pytest.raises(Exception, match="no named group 'shot'"):
        match.ShotMatcher(["SH010"], r"sh\d+")
