"""The add-on's bpy-free editorial rules: media per shot, strip plans, outdated strips, the change set."""

from __future__ import annotations

from typing import Any

import pytest

from aipipe_shared.editorial import (
    ChangeSetError,
    StripState,
    change_set,
    is_outdated,
    pick_media,
    plan_build,
    plan_from_edit,
    plan_markers,
    step_version,
    takes_of,
)


def _version(
    vid: str, stage: str, number: int, verdict: str | None = None, mime: str = "video/mp4"
) -> dict[str, Any]:
    return {
        "id": vid,
        "stage": stage,
        "number": number,
        "verdict": verdict,
        "files": [{"id": f"f{vid}", "mime": mime}],
    }


def _shot(sid: str, order: int, duration: int, **extra: Any) -> dict[str, Any]:
    return {"id": sid, "code": f"SHT_{order:04d}", "order": order, "duration_frames": duration, "revision": 3,
            "status": "ready", **extra}  # fmt: skip


def test_media_priority_final_render_approved_playblast_approved_first_frame() -> None:
    first = _version("p1", "previz", 1, "approve", "image/png")
    assert pick_media([first]).version_id == "p1"
    assert (
        pick_media([_version("p2", "previz", 2, None, "image/png"), first]).version_id == "p1"
    )  # not approved
    blast = _version("b1", "playblast", 1, "approve")
    assert pick_media([first, blast]).version_id == "b1"
    assert pick_media([first, blast, _version("b2", "playblast", 2)]).version_id == "b1"
    render = _version("r1", "render", 1)
    assert pick_media([first, blast, render]).label == "render v001"
    assert pick_media([first, blast, render, _version("r2", "render", 2, "reject")]).version_id == "r1"
    assert pick_media([render, _version("x", "final", 1)]).version_id == "x"
    assert pick_media([_version("n", "render", 1, None, "application/json")]) is None  # no movie in it
    assert pick_media([]) is None


def test_build_plan_is_back_to_back_in_shot_order_with_the_handles_each_movie_holds() -> None:
    shots = [_shot("b", 20, 30, handle_in=6), _shot("a", 10, 48), _shot("c", 30, 12, status="omitted"),
             _shot("d", 40, 5), _shot("e", 50, 24, handle_in=8)]  # fmt: skip
    versions = {
        "a": [{**_version("ra", "render", 1), "handle_in": 8, "frame_count": 64}],  # 8 + 48 + 8
        "b": [_version("pb", "previz", 1, "approve", "image/png")],
        "e": [{**_version("pe", "playblast", 1, "approve"), "handle_in": 0, "frame_count": 20}],
    }
    plans = plan_build(shots, versions, start_frame=1001)
    assert [(p.shot_id, p.start, p.end, p.source_in, p.missing) for p in plans] == [
        ("a", 1001, 1049, 8, 0),  # the movie's own head handle is skipped
        ("b", 1049, 1079, 0, 0),  # still: from its only frame
        ("d", 1079, 1084, 0, 0),  # slate
        ("e", 1084, 1108, 0, 4),  # a playblast holds no handle (the shot's 8 is not skipped); 4 short
    ]
    assert plans[2].media is None


def test_outdated_strips_and_stepping_through_takes() -> None:
    versions = [
        _version("r1", "render", 1),
        _version("r2", "render", 2),
        _version("p1", "previz", 1, "approve", "image/png"),
    ]
    assert is_outdated("r1", versions) and not is_outdated("r2", versions)
    assert [v["id"] for v in takes_of(versions)] == ["r2", "r1", "p1"]
    # a positive step goes to the next newer take: previz → render 1 → render 2, then round to the oldest
    assert step_version("p1", versions, 1)["id"] == "r1"
    assert step_version("r1", versions, 1)["id"] == "r2"
    assert step_version("r2", versions, 1)["id"] == "p1"  # wraps
    assert step_version("r2", versions, -1)["id"] == "r1"
    assert step_version("p1", versions, -1)["id"] == "r2"  # wraps
    assert step_version("gone", versions, 1)["id"] == "r2"  # a strip showing no listed take: the newest
    assert step_version("gone", versions, -1)["id"] == "p1"
    assert step_version("x", [], 1) is None


SHOTS = [_shot("a", 10, 48), _shot("b", 20, 17), _shot("c", 30, 31)]


def test_untouched_vse_is_no_change() -> None:
    strips = [StripState("A", "a", 1, 49), StripState("B", "b", 49, 66), StripState("C", "c", 66, 97)]
    changes = change_set(SHOTS, strips)
    assert changes.empty and changes.lines({}) == ["No changes"]


def test_reorder_trim_split_and_delete_make_the_change_set() -> None:
    strips = [
        StripState("C", "c", 1, 21),  # moved to the front, trimmed to 20
        StripState("A", "a", 21, 51),  # trimmed to 30 ...
        StripState("A.001", "a", 51, 69),  # ... and the rest split off (18 frames)
    ]  # B deleted
    changes = change_set(SHOTS, strips)
    assert changes.order == ["c", "a"] and changes.reordered
    assert changes.durations == {"c": (31, 20), "a": (48, 30)}
    assert changes.omitted == ["b"]
    assert changes.splits == [{"from_shot_id": "a", "after_shot_id": "a", "frames": 18, "strip": "A.001"}]
    assert changes.request == {
        "shots": [
            {"shot_id": "c", "revision": 3, "duration_frames": 20},
            {"shot_id": "a", "revision": 3, "duration_frames": 30},
            {"split_from": "a", "duration_frames": 18},
        ],
        "omit": [{"shot_id": "b", "revision": 3}],
    }
    assert changes.strips == ["C", "A", "A.001"]
    lines = changes.lines({"a": "SHT_0010", "b": "SHT_0020", "c": "SHT_0030"})
    assert "SHT_0030: 31 -> 20 frames" in lines and "SHT_0020: omitted (removed from the edit)" in lines


def test_strips_of_unknown_shots_or_without_frames_are_named() -> None:
    with pytest.raises(ChangeSetError, match="Stray"):
        change_set(SHOTS, [StripState("Stray", "zzz", 1, 10)])
    with pytest.raises(ChangeSetError, match="'A'"):
        change_set(SHOTS, [StripState("A", "a", 10, 10)])


def test_review_notes_become_markers_at_their_media_frame_inside_the_strip() -> None:
    edit = {
        "shots": [
            {"shot_id": "a", "code": "SHT_0010", "revision": 1, "duration_frames": 48, "source_in": 8,
             "media": {"version_id": "r", "stage": "render", "number": 1, "still": False},
             "notes": [{"frame": 20, "text": "fix  the\nhand"}, {"frame": 200, "text": "late"}]},
            {"shot_id": "b", "code": "SHT_0020", "revision": 1, "duration_frames": 10, "source_in": 0,
             "media": None, "notes": [{"frame": 2, "text": "", "verdict": "approve"}]},
        ]
    }  # fmt: skip
    plans = plan_from_edit(edit, 1001)
    assert plan_markers(edit, plans) == [
        (1001 + 20 - 8, "SHT_0010: fix the hand"),  # the note's frame 20 of the media, 8 frames skipped
        (1048, "SHT_0010: late"),  # past the cut: on the shot's last frame
        (1051, "SHT_0020: approve"),
    ]
    long = {"shots": [{**edit["shots"][1], "notes": [{"frame": 0, "text": "x" * 200}]}]}
    assert len(plan_markers(long, plan_from_edit(long))[0][1]) == 63


def test_a_recipes_furthest_step_is_shown_unless_a_newer_render_replaced_its_source() -> None:
    render = _version("r1", "render", 1)
    interp = {**_version("i1", "interp", 1), "provenance": {"parent_version_id": "r1"}}
    upscale = {**_version("u1", "upscale", 1), "provenance": {"parent_version_id": "i1"}}
    assert pick_media([render, interp]).version_id == "i1"
    assert pick_media([render, interp, upscale]).label == "upscale v001"
    # a re-render (v002) replaces the chain made from v001 until its own steps arrive
    rerender = _version("r2", "render", 2)
    assert pick_media([render, interp, upscale, rerender]).version_id == "r2"
    interp2 = {**_version("i2", "interp", 2), "provenance": {"parent_version_id": "r2"}}
    assert pick_media([render, interp, upscale, rerender, interp2]).version_id == "i2"
    # a rejected re-render does not replace anything; a final still wins over every step
    rejected = _version("r2", "render", 2, "reject")
    assert pick_media([render, interp, upscale, rejected]).version_id == "u1"
    assert pick_media([render, upscale, _version("f", "final", 1)]).version_id == "f"
    # a provenance loop or a parent from elsewhere is not followed for ever
    looped = {**_version("u9", "upscale", 9), "provenance": {"parent_version_id": "u9"}}
    assert pick_media([looped]).version_id == "u9"
