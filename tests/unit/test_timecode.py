"""The agent's SMPTE timecode (aipipe_shared.timecode) read against OpenTimelineIO's: every frame of the
first eleven minutes and spot frames past a day (a 24-hour clock), at drop-frame 29.97 / 59.94 and the
non-drop rates; and the texts it refuses."""

from __future__ import annotations

from fractions import Fraction

import opentimelineio as otio
import pytest

from aipipe_shared.timecode import frames_timecode, is_drop_frame, timecode_after, timecode_frames

RATES = [Fraction(24000, 1001), Fraction(24), Fraction(25), Fraction(30000, 1001), Fraction(30),
         Fraction(60000, 1001), Fraction(50)]  # fmt: skip


@pytest.mark.parametrize("rate", RATES, ids=str)
def test_every_frame_is_named_as_opentimelineio_names_it_and_read_back(rate: Fraction) -> None:
    drop = is_drop_frame(rate)
    nominal = round(rate)
    frames = [*range(0, 11 * 60 * nominal + 5), 107_891, 107_892, 215_784, 863_999, 2_589_407]
    day = timecode_frames(f"23:59:59:{nominal - 1:02d}", rate) + 1  # a 24-hour clock, as OTIO's
    for frame in frames:
        text = frames_timecode(frame, rate)
        want = otio.opentime.to_timecode(otio.opentime.RationalTime(frame, float(rate)), float(rate), drop)
        assert text == want, (frame, text, want)
        assert timecode_frames(text, rate) == frame % day


def test_a_record_start_written_with_colons_is_drop_frame_at_2997_as_the_edl_reads_it() -> None:
    rate = Fraction(30000, 1001)
    assert timecode_after("01:00:00:00", 0, rate) == "01:00:00;00"
    assert timecode_after("01:00:00;00", 1800, rate) == "01:01:00;02"  # 00 and 01 are skipped
    assert timecode_after("00:59:59;29", 1, rate) == "01:00:00;00"
    assert timecode_after("01:00:00:00", 1800, Fraction(30)) == "01:01:00:00"
    assert timecode_after("01:00:00:00", 25, Fraction(25)) == "01:00:01:00"


@pytest.mark.parametrize(
    ("text", "rate", "says"),
    [
        ("1:00:00", Fraction(24), "HH:MM:SS:FF"),
        ("01:00:00:24", Fraction(24), "not a time at 24 fps"),
        ("01:60:00:00", Fraction(25), "not a time"),
        ("01:01:00;01", Fraction(30000, 1001), "skips"),
    ],
)
def test_a_text_that_is_not_a_timecode_at_the_rate_is_refused_naming_it(
    text: str, rate: Fraction, says: str
) -> None:
    with pytest.raises(ValueError, match=says) as raised:
        timecode_frames(text, rate)
    assert repr(text) in str(raised.value)
