"""The add-on's image-loop rules without Blender: batch bodies, review / redo bodies, take labels and
provenance lines, stepping, where the A/B wipe goes, which markers become frame notes, event arrivals,
and the A/B pictures."""

from __future__ import annotations

import numpy as np
import pytest

from blender_addon.images import core


def test_batch_body_names_each_shot_once_in_order_with_the_dialogs_choices() -> None:
    body = core.batch_body(["s2", "s1", "s2", ""], 4, "increment", 7, "flux1_dev_t2i", "depth", priority=60)
    assert body == {
        "shots": ["s2", "s1"],
        "operation": "generate",
        "candidates": 4,
        "seeds": "increment",
        "seed": 7,
        "workflow": "flux1_dev_t2i",
        "control_from_layout": True,
        "control": {"kind": "depth"},
        "priority": 60,
    }
    plain = core.batch_body(["s1"], 1, "random", None, None, None)
    assert plain["control_from_layout"] is False and "control" not in plain and plain["workflow"] is None


def test_batch_body_with_a_recipe_and_which_recipes_a_take_can_be_made_with() -> None:
    body = core.batch_body(["s1"], 2, "random", None, None, None, recipe="look")
    assert body["recipe"] == "look" and body["workflow"] is None
    with pytest.raises(ValueError, match="^recipe:"):
        core.batch_body(["s1"], 2, "random", None, "flux1_dev_t2i", None, recipe="look")

    def step(job_type: str, takes: str | None, makes: str) -> dict[str, object]:
        return {"job_type": job_type, "input_kind": takes, "output_kind": makes}

    recipes = [
        {"name": "refined", "steps": [step("t2i", None, "image"), step("i2i", "image", "image")]},
        {"name": "Plain", "steps": [step("t2i", None, "image")]},
        {"name": "film", "steps": [step("i2v", "image", "video"), step("upscale", "video", "video")]},
        {"name": "moving", "steps": [step("t2i", None, "image"), step("i2v", "image", "video")]},
        {"name": "empty", "steps": []},
    ]
    assert [r["name"] for r in core.take_recipes(recipes)] == ["Plain", "refined"]


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (([], 4, "random", None, None, None), "shots"),
        ((["s"], 0, "random", None, None, None), "candidates"),
        ((["s"], 17, "random", None, None, None), "candidates"),
        ((["s"], 2, "sometimes", None, None, None), "seeds"),
        ((["s"], 2, "random", None, None, "normal"), "control.kind"),
    ],
)
def test_a_bad_batch_is_refused_naming_the_field(args, field) -> None:
    with pytest.raises(ValueError, match=f"^{field}:"):
        core.batch_body(*args)


def test_review_body_keeps_verdict_note_and_frame_and_refuses_an_empty_review() -> None:
    assert core.review_body("needs_changes", "  hand   shape ", 12) == {
        "verdict": "needs_changes",
        "text": "hand shape",
        "frame": 12,
    }
    assert core.review_body(None, "note", None) == {"text": "note"}
    assert core.review_body("approve", "", -3) == {"verdict": "approve", "text": "", "frame": 0}
    with pytest.raises(ValueError, match="^text:"):
        core.review_body(None, "   ", 3)
    with pytest.raises(ValueError, match="^verdict:"):
        core.review_body("maybe", "x", 3)


def test_a_takes_frames_are_numbered_from_the_cut_at_1001_and_notes_keep_the_media_frame() -> None:
    """The review dialog shows the numbers the review room and the shot's timeline show; the note keeps the
    media frame (0 = the take's first), which the VSE's markers read."""
    assert core.frame_number(0, 0) == 1001  # a playblast of the cut, or a still
    assert core.frame_number(12, 0) == 1013
    assert core.frame_number(0, 8) == 993  # a render holding 8 frames of head handle
    assert core.frame_number(8, 8) == 1001
    assert core.media_frame_of(1013, 0) == 12
    assert core.media_frame_of(1001, 8) == 8
    assert core.media_frame_of(993, 8) == 0
    for number in (12, 1000):
        assert core.media_frame_of(core.frame_number(number, 8), 8) == number
    with pytest.raises(ValueError, match="before the take's first frame, 993"):
        core.media_frame_of(992, 8)
    with pytest.raises(ValueError, match="before the take's first frame, 1001"):
        core.media_frame_of(12, 0)  # a frame counted from 0, as the dialog took it before


def test_a_takes_own_first_frame_numbers_its_frames_and_the_handle_rule_is_only_the_fallback() -> None:
    """A version published with first_frame=2001 (no handle) is numbered 2001, 2002, … as the review room
    numbers it, not 1001; without a first frame the cut at 1001 less the head handle still holds."""
    assert core.frame_number(0, 0, 2001) == 2001
    assert core.frame_number(12, 0, 2001) == 2013
    assert core.frame_number(0, 8, 993) == 993  # the first frame wins over the handle rule where both say
    assert core.frame_number(0, 8, 2001) == 2001
    assert core.frame_number(0, 8, None) == 993  # none said: 1001 less the head handle, as before
    assert core.frame_number(0, 0, 0) == 0  # a take numbered from 0 is not mistaken for one without a number
    assert core.media_frame_of(2001, 0, 2001) == 0
    assert core.media_frame_of(2013, 0, 2001) == 12
    assert core.media_frame_of(1013, 8, None) == 20
    with pytest.raises(ValueError, match="before the take's first frame, 2001"):
        core.media_frame_of(1001, 0, 2001)  # the cut's usual first is before this take's


def test_redo_body_changes_only_what_was_typed_and_an_explicit_seed_wins() -> None:
    assert core.redo_body(True) == {"new_seed": True, "changes": {}}
    assert core.redo_body(True, " night ", "") == {"new_seed": True, "changes": {"prompt": "night"}}
    assert core.redo_body(True, seed=42) == {"new_seed": False, "changes": {"seed": 42}}


def _item(number: int, seed: int | None = None, first: bool = False, **provenance) -> dict:
    files = [{"name": f"t{number}.png", "mime": "image/png", "url": f"/f/{number}", "sha256": "ab"}]
    return {
        "version": {"id": f"v{number}", "shot_id": "s", "number": number, "files": files, "verdict": None},
        "provenance": {"seed": seed, **provenance},
        "verdict": "approve" if first else None,
        "is_first_frame": first,
    }


def test_takes_are_in_number_order_with_a_label_that_says_seed_verdict_and_first_frame() -> None:
    takes = core.takes_of([_item(3, 11), _item(1, 9, first=True), _item(2)])
    assert [t.version_id for t in takes] == ["v1", "v2", "v3"]
    assert takes[0].label == "v001 · seed 9 · approve ★"
    assert takes[1].label == "v002" and takes[1].seed is None
    assert takes[2].file == {"name": "t3.png", "mime": "image/png", "url": "/f/3", "sha256": "ab"}


def test_provenance_lines_put_the_usual_fields_first_and_flatten_params() -> None:
    lines = core.provenance_lines(
        {
            "steps": 20,
            "prompt": "비 오는 골목",
            "workflow": "flux1_dev_t2i",
            "seed": 5,
            "params": {"cfg": 3.5, "loras": [{"name": "rina", "strength": 0.8}]},
            "negative_prompt": "dark",
            "input_version_ids": [],
            "take": {"operation": "generate", "candidates": 4},
            "inputs": [{"role": "control_image"}],
        }
    )
    assert lines == [
        ("workflow", "flux1_dev_t2i"),
        ("seed", "5"),
        ("prompt", "비 오는 골목"),
        ("negative_prompt", "dark"),
        ("cfg", "3.5"),
        ("loras", '[{"name": "rina", "strength": 0.8}]'),
        ("steps", "20"),
    ]


def test_stepping_wraps_both_ways_and_starts_from_an_end_when_nothing_is_shown() -> None:
    assert [core.step(i, 3, 1) for i in range(3)] == [1, 2, 0]
    assert core.step(0, 3, -1) == 2
    assert core.step(-1, 3, 1) == 0 and core.step(-1, 3, -1) == 2
    assert core.step(0, 0, 1) == -1


def test_the_wipe_takes_three_free_channels_above_the_strip() -> None:
    assert core.wipe_plan(2, 1, 49) == core.WipePlan(3, 4, 5, 1, 49)
    # stacked takes on 3 and 4 stay where they are
    assert core.wipe_plan(2, 1, 49, taken=[3, 4, 6]) == core.WipePlan(5, 7, 8, 1, 49)


def _spans() -> list[core.StripSpan]:
    return [
        core.StripSpan("render-a", "SH0010", 2, 1, 49, 4),  # a movie cut 4 frames in (head handle)
        core.StripSpan("take-b", "SH0010", 3, 1, 49, 0),  # a take stacked above it
        core.StripSpan("still-c", "SH0020", 2, 49, 66, 0),
        core.StripSpan("", "SH0030", 2, 66, 97, 0),  # a slate: no version
    ]


def test_markers_become_notes_of_the_topmost_version_at_its_media_frame() -> None:
    notes = core.marker_notes(
        [(10, "hand  shape"), (50, "too dark"), (70, "slate note"), (200, "after the edit")], _spans(), [], []
    )
    assert [(n.version_id, n.frame, n.text) for n in notes] == [
        ("take-b", 9, "hand shape"),
        ("still-c", 1, "too dark"),
    ]
    assert notes[0].server_name == "SH0010: hand shape" and notes[0].key == "10|hand  shape"


def test_markers_from_the_server_and_markers_already_sent_are_not_sent() -> None:
    markers = [(10, "SH0010: from the server"), (12, "mine"), (13, "sent before")]
    notes = core.marker_notes(markers, _spans(), ["SH0010: from the server"], ["13|sent before"])
    assert [n.marker_name for n in notes] == ["mine"]


def test_marker_names_are_cut_like_blenders() -> None:
    assert len(core.marker_name("SH0010", "x" * 100)) == core.MARKER_CHARS
    assert (
        core.load_list('["a", 1]') == ["a", "1"] and core.load_list("{") == [] and core.load_list(None) == []
    )


def test_arrivals_count_previz_takes_and_ask_for_one_refresh_at_a_time() -> None:
    arrivals = core.Arrivals()
    assert not arrivals.add({"stage": "render", "shot_id": "s1"}, "s1")
    assert not arrivals.add({"stage": "previz", "shot_id": "s2"}, "s1")
    assert arrivals.add({"stage": "previz", "shot_id": "s1"}, "s1")  # fetch now
    assert not arrivals.add({"stage": "previz", "shot_id": "s1"}, "s1")  # one is running: later
    assert not arrivals.add({"stage": "previz", "shot_id": "s1"}, "s1")
    assert arrivals.total == 4 and arrivals.by_shot == {"s2": 1, "s1": 3}
    assert arrivals.refreshed() is True  # takes came during the refresh: once more
    assert arrivals.refreshed() is False and not arrivals.refreshing
    assert arrivals.add({"stage": "previz", "shot_id": "s1"}, "s1")
    # a recipe take: the t2i image on the way is not one, the chain's last image is (whatever its stage)
    arrivals = core.Arrivals()
    assert not arrivals.add({"stage": "previz", "shot_id": "s1", "provenance": {"take_role": "step"}}, "s1")
    assert arrivals.add({"stage": "upscale", "shot_id": "s1", "provenance": {"take_role": "take"}}, "s1")
    assert arrivals.total == 1


def test_side_by_side_and_wipe_pictures() -> None:
    a = np.zeros((4, 6, 4), dtype=np.float32)
    b = np.full((3, 5, 4), 0.5, dtype=np.float32)
    both = core.side_by_side(a, b)
    assert both.shape == (4, 11, 4)
    assert (both[:3, 6:] == 0.5).all() and (both[3, 6:] == 0).all()  # B padded to A's height
    wiped = core.wipe(a, b, 0.5)
    assert wiped.shape == a.shape
    assert (wiped[:, :3] == 0).all() and (wiped[:, 3] == 1).all() and (wiped[:3, 4] == 0.5).all()
    assert (core.wipe(a, b, 0.0)[:3, 0] == 0.5).all() and (core.wipe(a, b, 1.0) == 0).all()


def test_take_rows_are_the_panels_strings_in_take_order() -> None:
    rows = core.take_rows([_item(2, 5, prompt="비"), _item(1, first=True)])
    assert [r.version_id for r in rows] == ["v1", "v2"]
    assert rows[0].first_frame and rows[0].label == "v001 · approve ★"
    assert rows[1].provenance == '{"seed": 5, "prompt": "비"}' and rows[1].file_url == "/f/2"


def test_a_takes_own_first_frame_comes_from_its_version_and_numbers_its_frames() -> None:
    """The take rows carry the version's `first_frame` (993), and the Image Editor numbers the take from it,
    as the VSE and the review room do; a take that says none (or a server that does not send it) keeps the
    rule, 1001 for a still."""
    said = _item(1)
    said["version"]["first_frame"] = 993
    at_zero = _item(3)
    at_zero["version"]["first_frame"] = 0
    flagged = _item(4)
    flagged["version"]["first_frame"] = True  # not a number: not taken for 1
    rows = core.take_rows([said, _item(2), at_zero, flagged])
    assert [r.media_first for r in rows] == [993, None, 0, None]
    assert [t.media_first for t in core.takes_of([said, _item(2)])] == [993, None]
    assert core.frame_number(0, 0, rows[0].media_first) == 993
    assert core.media_frame_of(1012, 0, rows[0].media_first) == 19  # "fix at 1012"
    assert core.frame_number(0, 0, rows[1].media_first) == 1001
    assert core.media_frame_of(1012, 0, rows[1].media_first) == 11
