"""Formula neutralisation, header spellings and codes for new shots: the pure parts of the shot list."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sync_server.shotlist.cells import FORMULA_STARTS, column_letter, neutralise, restore
from sync_server.shotlist.codes import assign
from sync_server.shotlist.columns import SHOT_COLUMNS, header_index, normalise_header
from sync_server.storage.layout import ProjectLayout


class _Project:
    code = "DEMO"
    storage_root = None
    naming: dict[str, str] = {}


@given(st.text())
def test_neutralised_text_never_starts_like_a_formula_and_restores_exactly(text: str) -> None:
    safe = neutralise(text)
    assert not safe.startswith(FORMULA_STARTS)
    assert restore(safe) == text


def test_numbers_are_left_alone() -> None:
    assert neutralise(-3) == -3 and neutralise(2.5) == 2.5


def test_column_letters() -> None:
    assert [column_letter(i) for i in (0, 25, 26, 27, 701, 702)] == ["A", "Z", "AA", "AB", "ZZ", "AAA"]


def test_headers_are_accepted_in_english_korean_and_as_keys() -> None:
    index = header_index(SHOT_COLUMNS)
    for spelling, key in (
        ("Duration (frames)", "duration_frames"),
        ("길이(프레임)", "duration_frames"),
        ("  DURATION_frames ", "duration_frames"),
        ("샷", "code"),
        ("샷 코드", "code"),
        ("등장인물", "characters"),
        ("Camera  notes", "camera_notes"),
    ):
        assert index[normalise_header(spelling)].key == key, spelling


def test_new_shots_get_codes_between_their_neighbours_or_at_the_end() -> None:
    layout = ProjectLayout.of(_Project())  # type: ignore[arg-type]
    taken = ["SHT_0010", "SHT_0020", "SHT_0030"]
    filled = assign(layout, taken, ["SHT_0010", None, "SHT_0020", "SHT_0030", None, None])
    assert filled == ["SHT_0010", "SHT_0015", "SHT_0020", "SHT_0030", "SHT_0040", "SHT_0050"]
    # No room between two neighbours: the new shot goes after the last code.
    assert assign(layout, ["SHT_0010", "SHT_0011"], ["SHT_0010", None, "SHT_0011"])[1] == "SHT_0020"
