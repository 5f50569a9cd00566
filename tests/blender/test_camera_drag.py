"""Dragging the overlay's horizon and vanishing lines (blender_addon/camera/drag.py) through the operator's
execute path, as a headless run can drive it: what is held for the re-solve, the overlay drawing it, undo."""

from __future__ import annotations

import json

import bpy
import pytest

SOLUTION = {
    "image_width": 1280,
    "image_height": 720,
    "horizon": {"pixel_points": [[0.0, 300.0], [1280.0, 340.0]]},
    "lines": [
        {"axis": "x", "a": [100.0, 500.0], "b": [600.0, 420.0]},
        {"axis": "z", "a": [900.0, 100.0], "b": [905.0, 650.0]},
    ],
}


def _solved_scene() -> bpy.types.Scene:
    from blender_addon.camera import apply

    scene = bpy.context.scene
    scene.render.resolution_x, scene.render.resolution_y = 1280, 720
    camera = bpy.data.objects.new("SH020", bpy.data.cameras.new("SH020"))
    scene.collection.objects.link(camera)
    scene.camera = camera
    camera[apply.SOLUTION_KEY] = json.dumps(SOLUTION)
    settings = scene.aipipe_camera
    settings.hold_horizon = False
    settings.lines.clear()
    return scene


def _on_horizon(scene: bpy.types.Scene, x: float) -> float:
    settings = scene.aipipe_camera
    return settings.horizon_left + (settings.horizon_right - settings.horizon_left) * x / 1280.0


def test_dragging_the_horizons_left_end_holds_a_horizon_through_it_and_the_right_end(addon) -> None:
    from blender_addon.camera import apply

    scene = _solved_scene()
    assert bpy.ops.aipipe.camera_drag(handle="horizon:left", to=(200.0, 250.0)) == {"FINISHED"}
    settings = scene.aipipe_camera
    assert settings.hold_horizon
    assert _on_horizon(scene, 200.0) == pytest.approx(250.0)
    assert settings.horizon_right == pytest.approx(340.0)  # the other end stays where the solve put it
    body = apply.correction(scene).body()["horizon"]
    assert body["b"][1] == pytest.approx(340.0)


def test_dragging_the_horizons_middle_moves_it_up_by_the_drag(addon) -> None:
    scene = _solved_scene()
    bpy.ops.aipipe.camera_drag(handle="horizon:middle", grab=(640.0, 320.0), to=(700.0, 280.0))
    settings = scene.aipipe_camera
    assert (settings.horizon_left, settings.horizon_right) == pytest.approx((260.0, 300.0))


def test_dragging_a_solve_lines_end_holds_a_copy_of_that_line_for_the_re_solve(addon) -> None:
    from blender_addon.camera import apply, apply_core, overlay

    scene = _solved_scene()
    assert bpy.ops.aipipe.camera_drag(handle="solved:1:b", to=(930.0, 660.0)) == {"FINISHED"}
    lines = apply.correction(scene).body()["vanishing_lines"]
    assert lines == [{"axis": "z", "a": [900.0, 100.0], "b": [930.0, 660.0]}]
    # then its held copy drags on its own; the overlay draws it where it was dropped
    assert bpy.ops.aipipe.camera_drag(handle="held:0:a", to=(880.0, 90.0)) == {"FINISHED"}
    positions, _colours = overlay.geometry(scene, apply_core.image_corners(1280, 720))
    assert positions[-2:] == [pytest.approx((880.0, 630.0, 0.0)), pytest.approx((930.0, 60.0, 0.0))]


def test_a_handle_that_is_not_there_is_refused_naming_it_and_nothing_changes(addon) -> None:
    scene = _solved_scene()
    with pytest.raises(RuntimeError, match="there are 2"):
        bpy.ops.aipipe.camera_drag(handle="solved:7:a", to=(1.0, 1.0))
    with pytest.raises(RuntimeError, match="expected horizon"):
        bpy.ops.aipipe.camera_drag(handle="sky:left", to=(1.0, 1.0))
    assert not scene.aipipe_camera.hold_horizon and len(scene.aipipe_camera.lines) == 0


def test_one_undo_takes_a_drag_back(addon) -> None:
    scene = _solved_scene()
    bpy.ops.ed.undo_push(message="Before the drag")
    bpy.ops.aipipe.camera_drag(handle="horizon:right", to=(1000.0, 400.0))
    assert bpy.context.scene.aipipe_camera.hold_horizon
    # Blender pushes an UNDO operator's step when the UI runs it; a call from Python does not, so the test
    # pushes it under the operator's name, as the UI would.
    bpy.ops.ed.undo_push(message="Drag lines")
    assert bpy.ops.ed.undo() == {"FINISHED"}
    assert not bpy.context.scene.aipipe_camera.hold_horizon
    del scene
