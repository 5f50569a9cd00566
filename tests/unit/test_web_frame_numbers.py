"""The review room numbers frames as the studio does (`firstNumber` in review_media.js, run in Node): a
version's first media frame is the number its maker gave it (`first_frame`, as the shot list, the add-on and
the EDL use it), else the add-on's layout (the cut at 1001, the movie's head handle before it); never 0."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

JS = Path(__file__).resolve().parents[2] / "sync_server" / "web" / "static" / "js"

HARNESS = """
globalThis.document = { getElementById: () => ({ textContent: "{}" }), addEventListener: () => {} };
globalThis.localStorage = { getItem: () => null, setItem: () => {}, removeItem: () => {} };
globalThis.addEventListener = () => {};
globalThis.location = { origin: "http://server.test", protocol: "http:" };
const { firstNumber } = await import("./review_media.js");
console.log(JSON.stringify(VERSIONS.map((v) => firstNumber(v))));
"""

VERSIONS: list[dict[str, object] | None] = [
    {"first_frame": 1001, "handle_in": 0},  # a playblast of the cut 1001-1084
    {"first_frame": 993, "handle_in": 8},  # a render made with 8 frames of head handle
    {"first_frame": 0, "handle_in": 0},  # its maker numbered it from 0: kept
    {"first_frame": None, "handle_in": 0},  # not said: the cut starts at 1001
    {"first_frame": None, "handle_in": 8},  # not said, 8 frames of head handle: 993 is the movie's first
    {"handle_in": 4},  # an older record without the field
    None,  # no version in the slot
]


def test_the_review_room_numbers_a_versions_frames_from_its_first_frame_else_from_the_cut_at_1001(
    tmp_path: Path,
) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed")
    for name in ("review_media.js", "api.js"):
        shutil.copyfile(JS / name, tmp_path / name)
    (tmp_path / "package.json").write_text('{"type": "module"}', encoding="utf-8")
    (tmp_path / "harness.mjs").write_text(HARNESS.replace("VERSIONS", json.dumps(VERSIONS)), encoding="utf-8")
    done = subprocess.run(
        [node, "harness.mjs"], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [1001, 993, 0, 1001, 993, 997, 1001]
