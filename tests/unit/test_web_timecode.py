"""The review room's timecode (`timecode` in sync_server/web/static/js/review_media.js), run in Node and read
against OpenTimelineIO's: drop-frame at 29.97 and 59.94 (as the server's EDL and XML write it), non-drop at
the other rates, across the minute and ten-minute boundaries where frame numbers are skipped."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio

from tests.support.node import run_module_script

RATES = [(24000, 1001), (24, 1), (25, 1), (30000, 1001), (60000, 1001), (30, 1)]
FRAMES = [
    0,
    1,
    1799,
    1800,
    1801,
    3597,
    3598,
    17981,
    17982,
    17983,
    35963,
    35964,
    107891,
    107892,
    215784,
    863999,
]

HARNESS = """
globalThis.document = { getElementById: () => ({ textContent: "{}" }), addEventListener: () => {} };
globalThis.localStorage = { getItem: () => null, setItem: () => {}, removeItem: () => {} };
globalThis.addEventListener = () => {};
globalThis.location = { origin: "http://server.test", protocol: "http:" };
const { timecode } = await import("./review_media.js");
const out = {};
for (const [num, den] of RATES) out[`${num}/${den}`] = FRAMES.map((f) => timecode(f, { num, den }));
console.log(JSON.stringify(out));
"""


def test_the_review_rooms_timecode_is_otios_drop_frame_at_2997_and_5994_and_non_drop_elsewhere(
    tmp_path: Path,
) -> None:
    script = HARNESS.replace("RATES", json.dumps(RATES)).replace("FRAMES", json.dumps(FRAMES))
    shown = run_module_script(tmp_path, script)
    for num, den in RATES:
        rate = float(Fraction(num, den))
        drop = den == 1001 and num in (30000, 60000)
        expected = [
            otio.opentime.to_timecode(otio.opentime.RationalTime(f, rate), rate, drop_frame=drop)
            for f in FRAMES
        ]
        assert shown[f"{num}/{den}"] == expected, f"{num}/{den}"
    assert shown["30000/1001"][FRAMES.index(1800)] == "00:01:00;02"  # ;00 and ;01 do not exist at minute 1
    assert shown["30000/1001"][FRAMES.index(17982)] == "00:10:00;00"  # every tenth minute keeps them
