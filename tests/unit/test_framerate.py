"""Frame rates are exact rationals."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aipipe_shared.framerate import FrameRateError, fps_decimal, fps_text, parse_fps


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("23.976", (24000, 1001)),
        (23.976, (24000, 1001)),
        ("23.98", (24000, 1001)),
        ("24000/1001", (24000, 1001)),
        ("29.97", (30000, 1001)),
        ("59.94", (60000, 1001)),
        (24, (24, 1)),
        ("25", (25, 1)),
        (30.0, (30, 1)),
        ("12.5", (25, 2)),
    ],
)
def test_decimal_and_ratio_spellings_become_the_exact_rate(given, expected) -> None:
    assert parse_fps(given) == expected


@pytest.mark.parametrize("bad", ["abc", "0", 0, -24, "24/0", "", True, "1e9"])
def test_nonsense_rates_are_refused(bad) -> None:
    with pytest.raises(FrameRateError):
        parse_fps(bad)


@given(st.integers(min_value=1, max_value=1000))
def test_whole_rates_round_trip_through_text(rate: int) -> None:
    num, den = parse_fps(fps_text(*parse_fps(rate)))
    assert (num, den) == (rate, 1)
    assert fps_decimal(num, den) == rate


def test_ntsc_rates_read_back_as_ratio_text() -> None:
    assert fps_text(*parse_fps("23.976")) == "24000/1001"
    assert fps_decimal(24000, 1001) == 23.976
