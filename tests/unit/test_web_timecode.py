"""The review room's timecode (`timecode` in sync_server/web/static/js/review_media.js), run in Node and read
against OpenTimelineIO's: drop-frame at 29.97 and 59.94 (as the server's EDL and XML write it), non-drop at
the other rates, across the minute and ten-minute boundaries where frame numbers are skipped."""

from __future__ import annotations

import json
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest

JS = Path(__file__).resolve().parents[2] / "sync_server" / "web" / "static" / "js"
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
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed")
    for name in ("review_media.js", "api.js"):
        shutil.copyfile(JS / name, tmp_path / name)
    (tmp_path / "package.json").write_text('{"type": "module"}', encoding="utf-8")
    script = HARNESS.replace("RATES", json.dumps(RATES)).replace("FRAMES", json.dumps(FRAMES))
    (tmp_path / "harness.mjs").write_text(script, encoding="utf-8")
    done = subprocess.run(
        [node, "harness.mjs"], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout.strip().splitlines()[-1])
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
