"""The review room numbers frames as the studio does (`firstNumber` in review_media.js, run in Node): a
version's first media frame is the number its maker gave it (`first_frame`, as the shot list, the add-on and
the EDL use it), else the add-on's layout (the cut at 1001, the movie's head handle before it); never 0. B's
player shows the frame with A's number (`matchFrame`), or says it has none."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.node import run_module_script

HARNESS = """
globalThis.document = { getElementById: () => ({ textContent: "{}" }), addEventListener: () => {} };
globalThis.localStorage = { getItem: () => null, setItem: () => {}, removeItem: () => {} };
globalThis.addEventListener = () => {};
globalThis.location = { origin: "http://server.test", protocol: "http:" };
const media = await import("./review_media.js");
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


def _in_node(tmp_path: Path, expression: str) -> Any:
    """The JSON value of `expression` (with review_media.js imported as `media`), computed by Node."""
    return run_module_script(tmp_path, f"{HARNESS}console.log(JSON.stringify({expression}));\n")


def test_the_review_room_numbers_a_versions_frames_from_its_first_frame_else_from_the_cut_at_1001(
    tmp_path: Path,
) -> None:
    numbers = _in_node(tmp_path, f"{json.dumps(VERSIONS)}.map((v) => media.firstNumber(v))")
    assert numbers == [1001, 993, 0, 1001, 993, 997, 1001]


PLAYBLAST = {"first_frame": 1001, "handle_in": 0, "frame_count": 48}  # 1001-1048
RENDER = {"first_frame": 993, "handle_in": 8, "frame_count": 24}  # 993-1016: 8 frames of head handle
PREVIZ = {"first_frame": None, "handle_in": 0, "frame_count": 48}  # not said: 1001-1048, as the cut


@pytest.mark.parametrize(
    ("frame", "a", "b", "shown"),
    [
        (0, PLAYBLAST, RENDER, {"frame": 8, "outside": False}),  # 1001 is the render's 9th frame
        (15, PLAYBLAST, RENDER, {"frame": 23, "outside": False}),  # 1016, the render's last
        (16, PLAYBLAST, RENDER, {"frame": 23, "outside": True}),  # 1017: none; its nearest is held
        (47, PLAYBLAST, RENDER, {"frame": 23, "outside": True}),
        (0, RENDER, PLAYBLAST, {"frame": 0, "outside": True}),  # 993: the playblast starts at 1001
        (7, RENDER, PLAYBLAST, {"frame": 0, "outside": True}),  # 1000
        (8, RENDER, PLAYBLAST, {"frame": 0, "outside": False}),  # 1001
        (12, PLAYBLAST, PREVIZ, {"frame": 12, "outside": False}),  # both from 1001: the same place
        (60, PLAYBLAST, {**RENDER, "frame_count": None}, {"frame": 68, "outside": False}),  # end not known
    ],
)
def test_b_shows_the_frame_with_the_number_a_shows_and_says_where_it_has_none(
    tmp_path: Path, frame: int, a: dict[str, Any], b: dict[str, Any], shown: dict[str, Any]
) -> None:
    """The review room's A/B players keep the same shot frame side by side (frame 1001 of A next to frame 1001
    of B), not the same place in each movie."""
    call = f"media.matchFrame({frame}, {json.dumps(a)}, {json.dumps(b)}, {json.dumps(b['frame_count'])})"
    assert _in_node(tmp_path, call) == shown
