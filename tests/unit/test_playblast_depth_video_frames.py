"""The depth video's frames and version fields (blender_addon/playblast/opsdata.py), without bpy."""

from __future__ import annotations

import json

import pytest

from blender_addon.playblast import opsdata


def test_video_frames_sample_the_scene_at_the_videos_times() -> None:
    assert opsdata.video_frames(24.0, 1001, 24.0, 4) == [1001, 1002, 1003, 1004]
    assert opsdata.video_frames(24.0, 1001, 16.0, 5) == [1001, 1003, 1004, 1006, 1007]  # halves round up
    assert opsdata.video_frames(24000 / 1001, 1, 16.0, 3) == [1, 2, 4]
    assert opsdata.video_frames(12.0, 1, 16.0, 4) == [1, 2, 3, 3]  # a slower scene: frames repeat
    with pytest.raises(ValueError, match="positive"):
        opsdata.video_frames(24.0, 1, 0.0, 3)


def test_frames_covering_a_cut() -> None:
    assert opsdata.frames_covering(1001, 1024, 24.0, 24.0) == 24
    assert opsdata.frames_covering(1001, 1024, 24.0, 12.0) == 12
    assert opsdata.frames_covering(1001, 1121, 24.0, 16.0) == 81  # 5 s at 24 fps is Wan's 81 frames at 16
    with pytest.raises(ValueError, match="empty"):
        opsdata.frames_covering(10, 9, 24.0, 16.0)


def test_depth_video_fields_carry_what_the_render_checks() -> None:
    fields = opsdata.depth_video_fields("SHT_0010", 16, 81, 1001, "abc")
    assert fields["stage"] == "control"
    provenance = json.loads(fields["provenance"])
    assert provenance["control_kind"] == "depth" and provenance["layout_version_id"] == "abc"
    assert (provenance["fps"], provenance["frames"], provenance["scene_frame_start"]) == (16, 81, 1001)
    assert "layout_version_id" not in json.loads(
        opsdata.depth_video_fields("C", 16, 9, 1, None)["provenance"]
    )
