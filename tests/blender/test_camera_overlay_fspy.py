"""The camera overlay's draw handler and geometry, and .fspy import/export, in real Blender (background:
the drawing itself cannot be seen, the handler's life and the lines it would draw can)."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

import addon_utils
import bpy
import mathutils
import numpy as np
import pytest
from PIL import Image

from scripts.camera_set.camera import camera_to_scene

LINES = [
    {"axis": "x", "a": [10.0, 20.0], "b": [600.0, 80.0]},
    {"axis": "x", "a": [15.0, 400.0], "b": [610.0, 380.0]},
    {"axis": "y", "a": [900.0, 30.0], "b": [700.0, 90.0]},
    {"axis": "z", "a": [300.0, 100.0], "b": [302.0, 600.0]},
    {"axis": "z", "a": [800.0, 120.0], "b": [801.0, 640.0]},
]


def _solution(width: int = 1280, height: int = 720) -> dict[str, Any]:
    transform = np.eye(4)
    transform[:3, :3] = camera_to_scene(-5.0, 2.0, 30.0)
    transform[2, 3] = 1.6
    return {
        "image_width": width,
        "image_height": height,
        "accepted": True,
        "case": "three_point",
        "relative_focal": 1.5,
        "focal_mm": 27.0,
        "sensor_width_mm": 36.0,
        "principal_point": [0.0, 0.0],
        "camera_transform": transform.tolist(),
        "horizon": {
            "pixel_points": [[0.0, 330.0], [float(width), 350.0]],
            "plane_line": [0, 1, 0],
            "angle_deg": 1,
        },
        "lines": LINES,
        "pitch_deg": -5.0,
        "roll_deg": 2.0,
        "confidence": 0.9,
    }


def _camera(scene: Any, name: str = "SH010") -> Any:
    camera = bpy.data.objects.new(name, bpy.data.cameras.new(name))
    scene.collection.objects.link(camera)
    scene.camera = camera
    return camera


def test_the_overlay_handler_comes_and_goes_with_the_add_on(addon) -> None:
    from blender_addon.camera import overlay

    handle = overlay.handle()
    assert handle is not None
    addon_utils.disable("blender_addon", default_set=True)
    try:
        assert not addon.is_ready()
        with pytest.raises(ValueError):  # already removed: Blender no longer knows the handle
            bpy.types.SpaceView3D.draw_handler_remove(handle, "WINDOW")
    finally:
        addon_utils.enable("blender_addon", default_set=True, handle_error=None)
    again = overlay.handle()
    assert again is not None and again is not handle


def test_the_overlay_draws_each_line_of_the_solution_and_the_horizon(addon) -> None:
    from blender_addon.camera import apply, apply_core, overlay

    scene = bpy.context.scene
    camera = _camera(scene)
    corners = apply_core.image_corners(1280, 720)
    assert overlay.geometry(scene, corners) is None  # no solve yet: nothing to draw
    apply.apply_solution(scene, camera, _solution(), "v1")
    positions, colours = overlay.geometry(scene, corners)
    assert len(positions) == len(colours) == 2 * len(LINES) + 2
    assert [c for c in colours[: 2 * len(LINES) : 2]] == [
        apply_core.AXIS_COLOURS[line["axis"]] for line in LINES
    ]
    assert positions[0] == pytest.approx((10.0, 720.0 - 20.0, 0.0))  # y flipped: regions count up
    assert positions[-2:] == [pytest.approx((0.0, 390.0, 0.0)), pytest.approx((1280.0, 370.0, 0.0))]
    # the artist's horizon is drawn where the two points put it
    settings = scene.aipipe_camera
    settings.hold_horizon, settings.horizon_left, settings.horizon_right = True, 300.0, 310.0
    positions, _ = overlay.geometry(scene, corners)
    assert positions[-2:] == [pytest.approx((0.0, 420.0, 0.0)), pytest.approx((1280.0, 410.0, 0.0))]
    # toggled off: nothing; cleared: nothing
    settings.overlay = False
    assert overlay.geometry(scene, corners) is None
    settings.overlay = True
    assert bpy.ops.aipipe.camera_clear_solution() == {"FINISHED"}
    assert overlay.geometry(scene, corners) is None
    overlay._draw_safely()  # headless: no 3D view to draw in, and no error either


def test_the_overlay_follows_the_camera_frame_in_the_region(addon) -> None:
    """Frame corners at an offset and scale (a zoomed, panned camera view) move the lines with them."""
    from blender_addon.camera import apply, apply_core, overlay

    scene = bpy.context.scene
    apply.apply_solution(scene, _camera(scene), _solution(), "v1")
    corners = apply_core.FrameCorners(
        top_left=(100.0, 460.0), top_right=(740.0, 460.0), bottom_left=(100.0, 100.0)
    )
    positions, _ = overlay.geometry(scene, corners)
    assert positions[0] == pytest.approx((100.0 + 10.0 / 2, 460.0 - 20.0 / 2, 0.0))


def _picture(folder: Path, width: int, height: int) -> Any:
    path = folder / "first_frame.png"
    Image.new("RGB", (width, height), (40, 90, 200)).save(path)
    image = bpy.data.images.load(str(path))
    image.pack()
    return image


@pytest.mark.parametrize(("width", "height"), [(1280, 720), (720, 1280)])
def test_fspy_export_and_import_round_trip_the_camera_and_picture(addon, tmp_path, width, height) -> None:
    from blender_addon import compat
    from blender_addon.camera import apply
    from blender_addon.shared import fspy

    scene = bpy.context.scene
    scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage = (
        width,
        height,
        100,
    )
    camera = _camera(scene)
    data = camera.data
    data.lens, data.sensor_width, data.sensor_fit = 35.0, 36.0, "HORIZONTAL"
    data.shift_x, data.shift_y = 0.04, -0.02
    matrix = np.eye(4)
    matrix[:3, :3] = camera_to_scene(7.0, -3.0, 125.0)
    matrix[:3, 3] = (2.0, -5.0, 1.7)
    camera.matrix_world = mathutils.Matrix(matrix.tolist())
    compat.camera_background(data, _picture(tmp_path, width // 10, height // 10), 0.5, False)
    path = tmp_path / "shot.fspy"
    assert bpy.ops.aipipe.camera_fspy_export(filepath=str(path)) == {"FINISHED"}
    project = fspy.loads(path.read_bytes())
    assert (project.image_width, project.image_height) == (width, height)
    assert Image.open(io.BytesIO(project.image)).size == (width // 10, height // 10)
    assert project.horizontal_fov == pytest.approx(2 * math.atan(18.0 / 35.0))

    # another scene, a camera elsewhere with Blender's defaults: the import makes it the exported one
    other = bpy.data.scenes.new("import")
    with bpy.context.temp_override(scene=other):
        target = _camera(other, "imported")
        assert target.data.sensor_fit == "AUTO"
        assert bpy.ops.aipipe.camera_fspy_import(filepath=str(path)) == {"FINISHED"}
    assert target.data.sensor_fit == "HORIZONTAL" and target.data.lens == pytest.approx(35.0)
    assert (target.data.shift_x, target.data.shift_y) == pytest.approx((0.04, -0.02))
    assert np.allclose([list(r) for r in target.matrix_world], matrix, atol=1e-5)
    assert (other.render.resolution_x, other.render.resolution_y) == (width, height)
    background = target.data.background_images[0].image
    assert background.packed_file is not None and tuple(background.size) == (width // 10, height // 10)
    assert apply.stored_solution(target) is None


def test_an_auto_fit_portrait_camera_exports_the_field_of_view_it_renders(addon, tmp_path) -> None:
    """Blender's AUTO fit puts the sensor width across a portrait frame's height: the exported project has
    the field of view Blender renders, and the import re-expresses it for sensor fit HORIZONTAL."""
    from blender_addon.camera import fspy_io

    scene = bpy.context.scene
    scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage = 720, 1280, 100
    camera = _camera(scene)
    camera.data.lens, camera.data.sensor_width, camera.data.sensor_fit = 50.0, 36.0, "AUTO"
    path = tmp_path / "auto.fspy"
    project = fspy_io.export_project(scene, str(path))
    assert project.vertical_fov == pytest.approx(2 * math.atan(18.0 / 50.0))  # 36 mm across the 1280 side
    camera.data.lens = 20.0
    fspy_io.import_project(scene, str(path))
    assert camera.data.sensor_fit == "HORIZONTAL"
    assert camera.data.lens == pytest.approx(50.0 * 1280 / 720)  # same view, sensor across the width


def test_a_file_that_is_not_an_fspy_project_is_refused_by_name(addon, tmp_path) -> None:
    scene = bpy.context.scene
    camera = _camera(scene)
    camera.data.lens = 42.0
    path = tmp_path / "holiday.fspy"
    path.write_bytes(b"PK\x03\x04 a zip, not a project")
    with pytest.raises(RuntimeError, match="holiday.fspy: not an fSpy project"):
        bpy.ops.aipipe.camera_fspy_import(filepath=str(path))
    assert camera.data.lens == 42.0  # nothing changed


def test_the_camera_panel_draws_before_and_after_a_solve(addon) -> None:
    from types import SimpleNamespace

    from blender_addon.camera import apply
    from tests.blender.test_addon_panels import RecordingLayout

    panel = bpy.types.AIPIPE_PT_camera
    scene = bpy.context.scene
    log: list[str] = []
    panel.draw(SimpleNamespace(layout=RecordingLayout(log)), bpy.context)
    assert "operator:aipipe.camera_solve" in log and "prop:hold_focal" in log and "prop:eye_height" in log
    assert "operator:aipipe.camera_fspy_import" in log and "prop:overlay" not in log
    apply.apply_solution(scene, _camera(scene), _solution(), "v1")
    log.clear()
    panel.draw(SimpleNamespace(layout=RecordingLayout(log)), bpy.context)
    assert "prop:overlay" in log and "operator:aipipe.camera_clear_solution" in log
    assert any(entry.startswith("label:Three vanishing points: 27.0 mm, pitch -5.0°") for entry in log)


@pytest.mark.parametrize(("width", "height", "shift"), [(1280, 720, (0.0, 0.0)), (720, 1280, (0.05, -0.03))])
def test_an_overlay_line_lands_on_the_scene_point_it_was_seen_at(addon, width, height, shift) -> None:
    """Looking through the camera (a region showing exactly the camera frame), the overlay's vertex for an
    image pixel is where the 3D point seen at that pixel is drawn: the lines sit on the picture's edges."""
    from types import SimpleNamespace

    from bpy_extras.object_utils import world_to_camera_view

    from blender_addon.camera import apply, overlay

    scene = bpy.context.scene
    scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage = (
        width,
        height,
        100,
    )
    camera = _camera(scene)
    solution = _solution(width, height) | {"principal_point": [0.0, 0.0]}
    apply.apply_solution(scene, camera, solution, "v1")
    camera.data.shift_x, camera.data.shift_y = shift
    bpy.context.view_layer.update()
    depsgraph = bpy.context.evaluated_depsgraph_get()
    projection = camera.calc_matrix_camera(depsgraph, x=width, y=height)
    rv3d = SimpleNamespace(perspective_matrix=projection @ camera.matrix_world.inverted())
    region = SimpleNamespace(width=width, height=height)
    corners = overlay.frame_corners(scene, camera, region, rv3d)
    point = camera.matrix_world @ mathutils.Vector((0.7, -0.4, -5.0))  # in front of the camera
    seen = world_to_camera_view(scene, camera, point)  # 0…1 across the frame, y up
    pixel = [seen.x * width, (1.0 - seen.y) * height]  # the picture's pixel (y down)
    camera[apply.SOLUTION_KEY] = json.dumps(solution | {"lines": [{"axis": "x", "a": pixel, "b": pixel}]})
    positions, _ = overlay.geometry(scene, corners)
    from bpy_extras.view3d_utils import location_3d_to_region_2d

    drawn = location_3d_to_region_2d(region, rv3d, point)
    assert positions[0][:2] == pytest.approx(tuple(drawn), abs=1e-3)
