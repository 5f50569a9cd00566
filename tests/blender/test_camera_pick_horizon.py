"""Placing the held horizon with two clicks in the camera view (blender_addon/camera/pick.py), through the
operator's execute path as a headless run can drive it, and the click → image-pixel mapping."""

from __future__ import annotations

import bpy
import pytest


def _camera_scene(width: int, height: int) -> bpy.types.Scene:
    scene = bpy.context.scene
    scene.render.resolution_x, scene.render.resolution_y = width, height
    camera = bpy.data.objects.new("SH010", bpy.data.cameras.new("SH010"))
    scene.collection.objects.link(camera)
    scene.camera = camera
    return scene


def test_two_points_hold_the_horizon_through_them_for_the_re_solve(addon) -> None:
    from blender_addon.camera import apply

    scene = _camera_scene(1280, 720)
    settings = scene.aipipe_camera
    assert not settings.hold_horizon
    assert bpy.ops.aipipe.camera_pick_horizon(point_a=(320.0, 300.0), point_b=(960.0, 340.0)) == {"FINISHED"}
    assert settings.hold_horizon
    assert (settings.horizon_left, settings.horizon_right) == pytest.approx((280.0, 360.0))
    # the re-solve request carries the line through the two clicks (the server holds it: API test)
    a, b = (apply.correction(scene).body()["horizon"][k] for k in ("a", "b"))
    for x, y in ((320.0, 300.0), (960.0, 340.0)):
        assert y == pytest.approx(a[1] + (b[1] - a[1]) * (x - a[0]) / (b[0] - a[0]))


def test_a_portrait_solved_picture_counts_its_own_width(addon) -> None:
    from blender_addon.camera import apply

    scene = _camera_scene(1920, 1080)  # the render resolution is not the solved picture's
    scene.camera[apply.SOLUTION_KEY] = '{"image_width": 720, "image_height": 1280}'
    assert bpy.ops.aipipe.camera_pick_horizon(point_a=(0.0, 500.0), point_b=(360.0, 520.0)) == {"FINISHED"}
    assert scene.aipipe_camera.horizon_right == pytest.approx(540.0)  # at x = 720, not 1920


def test_points_not_apart_across_the_picture_are_refused_and_nothing_changes(addon) -> None:
    scene = _camera_scene(1280, 720)
    settings = scene.aipipe_camera
    with pytest.raises(RuntimeError, match="apart across the picture"):
        bpy.ops.aipipe.camera_pick_horizon(point_a=(400.0, 100.0), point_b=(400.5, 600.0))
    assert not settings.hold_horizon and settings.horizon_left == 0.0


@pytest.mark.parametrize(
    "corners",
    [
        ((100.0, 500.0), (740.0, 500.0), (100.0, 140.0)),  # a camera frame in the region, y up
        ((120.0, 480.0), (700.0, 520.0), (90.0, 150.0)),  # skewed (a rolled, panned view)
    ],
)
def test_a_click_in_the_region_lands_on_the_image_pixel_drawn_there(corners) -> None:
    from blender_addon.camera import apply_core
    from blender_addon.camera.pick import region_to_image

    frame = apply_core.FrameCorners(*corners)
    for x, y in ((0.0, 0.0), (1280.0, 720.0), (333.0, 250.0)):
        region = frame.to_region(x, y, 1280, 720)
        assert region_to_image(frame, *region, 1280, 720) == pytest.approx((x, y))


def test_drawn_vanishing_lines_are_kept_on_the_scene_sent_with_the_re_solve_and_cleared(addon) -> None:
    from blender_addon.camera import apply

    scene = _camera_scene(1280, 720)
    draw = bpy.ops.aipipe.camera_draw_line
    assert draw(axis="x", point_a=(100.0, 400.0), point_b=(500.0, 380.0)) == {"FINISHED"}
    assert draw(axis="x", point_a=(100.0, 600.0), point_b=(500.0, 520.0)) == {"FINISHED"}
    assert draw(axis="z", point_a=(700.0, 100.0), point_b=(705.0, 600.0)) == {"FINISHED"}
    assert apply.correction(scene).body()["vanishing_lines"] == [
        {"axis": "x", "a": [100.0, 400.0], "b": [500.0, 380.0]},
        {"axis": "x", "a": [100.0, 600.0], "b": [500.0, 520.0]},
        {"axis": "z", "a": [700.0, 100.0], "b": [705.0, 600.0]},
    ]
    with pytest.raises(RuntimeError, match="two points apart"):
        draw(axis="y", point_a=(10.0, 10.0), point_b=(10.2, 10.3))
    assert len(scene.aipipe_camera.lines) == 3
    assert bpy.ops.aipipe.camera_clear_lines() == {"FINISHED"}
    assert "vanishing_lines" not in apply.correction(scene).body()


def test_the_request_the_add_on_sends_is_one_the_server_takes() -> None:
    from blender_addon.camera import apply_core
    from sync_server.camera.schemas import CameraSolveRequest

    lines = [{"axis": "x", "a": [100.0, 400.0], "b": [500.0, 380.0]}]
    body = apply_core.Correction(horizon=[[0, 300], [1280, 320]], vanishing_lines=lines).body()
    request = CameraSolveRequest.model_validate(body)
    assert request.vanishing_lines[0].axis == "x" and request.vanishing_lines[0].b == [500.0, 380.0]


def test_the_overlay_draws_the_held_vanishing_lines_where_they_were_clicked(addon) -> None:
    from blender_addon.camera import apply, apply_core, overlay

    scene = _camera_scene(1280, 720)
    scene.camera[apply.SOLUTION_KEY] = '{"image_width": 1280, "image_height": 720}'
    corners = apply_core.image_corners(1280, 720)
    before, _ = overlay.geometry(scene, corners)
    bpy.ops.aipipe.camera_draw_line(axis="y", point_a=(100.0, 400.0), point_b=(500.0, 380.0))
    positions, colours = overlay.geometry(scene, corners)
    assert len(positions) == len(before) + 2
    assert positions[-2:] == [pytest.approx((100.0, 320.0, 0.0)), pytest.approx((500.0, 340.0, 0.0))]
    assert colours[-1][1] > colours[-1][0]  # green: scene Y
