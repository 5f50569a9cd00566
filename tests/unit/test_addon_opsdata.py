"""Pure helpers of the add-on's features: merge, frame ranges, fps, paths, burn-ins, render bodies."""

from __future__ import annotations

import datetime

import pytest

from aipipe_shared.naming import default_template_set
from blender_addon.layout import opsdata as layout
from blender_addon.playblast import opsdata as playblast
from blender_addon.render import opsdata as render
from blender_addon.shots import opsdata as shots

BASE = {
    "description": "a",
    "action": "b",
    "duration_frames": 10,
    "preset_id": None,
    "environment_id": None,
    "subjects": [],
}


def test_merge_takes_each_sides_own_changes() -> None:
    mine = {**BASE, "action": "mine"}
    theirs = {**BASE, "description": "theirs"}
    merged, conflicts = shots.merge(BASE, mine, theirs)
    assert conflicts == [] and merged["action"] == "mine" and merged["description"] == "theirs"


def test_merge_reports_fields_both_changed_and_keeps_the_artists_value() -> None:
    merged, conflicts = shots.merge(BASE, {**BASE, "description": "x"}, {**BASE, "description": "y"})
    assert conflicts == ["description"] and merged["description"] == "x"


def test_same_change_on_both_sides_is_no_conflict() -> None:
    assert shots.merge(BASE, {**BASE, "description": "x"}, {**BASE, "description": "x"})[1] == []


def test_changed_and_body_use_the_servers_shape() -> None:
    mine = {**BASE, "subjects": [{"character_id": "c1", "clothing": "coat"}]}
    fields = shots.changed(BASE, mine)
    assert fields == ["subjects"]
    assert shots.to_body(shots.form_of(mine), fields) == {
        "subjects": [{"character_id": "c1", "clothing": "coat"}]
    }


def test_frame_range_puts_handles_around_the_cut() -> None:
    r = layout.frame_range(48, 8, 4)
    assert (r.first, r.cut_in, r.cut_out, r.last, r.duration) == (993, 1001, 1048, 1052, 48)
    with pytest.raises(ValueError, match="duration_frames"):
        layout.frame_range(0, 0, 0)


@pytest.mark.parametrize(
    ("num", "den", "fps", "base"), [(24000, 1001, 24, 1.001), (30000, 1001, 30, 1.001), (25, 1, 25, 1.0)]
)
def test_blender_fps_pair(num: int, den: int, fps: int, base: float) -> None:
    assert layout.blender_fps(num, den) == (fps, pytest.approx(base))


def test_shot_handles_fall_back_to_the_projects() -> None:
    assert layout.handles({"handle_in": None, "handle_out": 2}, {"handle_in": 6, "handle_out": 6}) == (6, 2)


def test_layout_path_is_built_and_recognised_with_the_naming_engine() -> None:
    ts = default_template_set()
    relative = layout.layout_file(ts, {"code": "NIGHT", "storage_root": None}, "SCN_010", "SHT_0040", 3)
    assert relative == "NIGHT/scenes/SCN_010/shots/SHT_0040/layout/v003/SHT_0040_layout_v003.blend"
    found = layout.recognise(f"/mnt/nas/{relative}", ts, [{"linux": "/mnt/nas"}])
    assert found is not None and (found.shot_code, found.stage, found.version) == ("SHT_0040", "layout", 3)
    assert layout.recognise("/home/me/untitled.blend", ts, [{"linux": "/mnt/nas"}]) is None


def test_burnin_note_and_font_size() -> None:
    note = playblast.Burnins("SHT_0010", "playblast v003", "rina").note(datetime.date(2026, 11, 22))
    assert note == "SHT_0010 | playblast v003 | rina | 2026-11-22"
    assert playblast.font_size(1080) == 27 and playblast.font_size(180) == 12


def test_playblast_range_is_the_cut_when_known() -> None:
    assert playblast.playblast_range(1001, 1012, 997, 1016) == (1001, 1012)
    assert playblast.playblast_range(0, 0, 1, 250) == (1, 250)


def test_a_playblast_says_what_it_holds_around_the_cut() -> None:
    assert playblast.extent_fields(1001, 1012, 1001, 1012) == {
        "first_frame": "1001", "frame_count": "12", "handle_in": "0", "handle_out": "0",
    }  # fmt: skip
    # the scene's range with its handles: 4 before the cut, 4 after
    assert playblast.extent_fields(997, 1016, 1001, 1012)["handle_in"] == "4"
    assert playblast.extent_fields(997, 1016, 1001, 1012)["handle_out"] == "4"
    assert playblast.extent_fields(1, 250, 0, 0)["handle_in"] == "0"  # no cut known: no handles


def test_render_body_checks_params_json() -> None:
    assert render.render_body("wan", 70, 0, '{"length": 49}') == {
        "priority": 70,
        "workflow": "wan",
        "params": {"length": 49},
    }
    assert render.render_body("NONE", 50, 7, "") == {"priority": 50, "seed": 7}
    with pytest.raises(ValueError, match="params"):
        render.render_body("wan", 50, 0, "[1]")
    with pytest.raises(ValueError, match="params"):
        render.render_body("wan", 50, 0, "{oops")


def test_media_file_prefers_video() -> None:
    version = {
        "files": [
            {"name": "t.jpg", "media": {"kind": "image"}},
            {"name": "r.mp4", "media": {"kind": "video"}},
        ]
    }
    assert render.media_file(version)["name"] == "r.mp4"


def test_history_undo_is_the_newest_applied_edit_and_redo_the_last_undone() -> None:
    history = [  # newest first, as the server lists a shot's change sets
        {"id": 9, "kind": "undo", "state": "applied", "target_id": 7},
        {"id": 8, "kind": "edit", "state": "applied", "label": "shot SHT_0010: action", "actor_name": "joon"},
        {"id": 7, "kind": "edit", "state": "undone", "label": "shot SHT_0010: description"},
        {"id": 6, "kind": "edit", "state": "applied"},
    ]
    assert shots.undo_target(history)["id"] == 8
    assert shots.redo_target(history)["id"] == 7
    assert shots.change_summary(shots.undo_target(history)) == "shot SHT_0010: action (joon)"
    redone = [{"id": 10, "kind": "redo", "state": "applied", "target_id": 7}] + [
        {**c, "state": "applied"} if c["id"] == 7 else c for c in history
    ]
    assert shots.redo_target(redone) is None  # the undone edit was applied again since
    assert shots.undo_target([]) is None and shots.redo_target([]) is None
