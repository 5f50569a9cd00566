"""The camera solution as Blender camera parameters (blender_addon/camera/apply_core.py), without bpy."""

from __future__ import annotations

import math

import numpy as np
import pytest

from aipipe_shared import fspy
from blender_addon.camera import apply_core
from scripts.camera_set.camera import camera_to_scene


def _solution(width: int, height: int, lens: float, pitch: float, roll: float, yaw: float, **extra) -> dict:
    """A solution as the server sends it, for a camera of `lens` mm on a 36 mm sensor across the width."""
    rotation = camera_to_scene(pitch, roll, yaw)
    transform = np.eye(4)
    transform[:3, :3] = rotation
    transform[2, 3] = 1.6
    relative = lens / 36.0 * width / (max(width, height) / 2.0)
    return {
        "image_width": width,
        "image_height": height,
        "relative_focal": relative,
        "focal_mm": lens,
        "sensor_width_mm": 36.0,
        "principal_point": [0.0, 0.0],
        "camera_transform": transform.tolist(),
        "lines": [],
        **extra,
    }


@pytest.mark.parametrize(("width", "height"), [(1280, 720), (720, 1280), (1024, 1024)])
def test_the_lens_is_for_the_sensor_across_the_image_width(width: int, height: int) -> None:
    params = apply_core.params_from_solution(_solution(width, height, 50.0, 5.0, -3.0, 30.0))
    assert params.lens_mm == pytest.approx(50.0)
    assert params.sensor_fit == "HORIZONTAL" and params.sensor_width_mm == 36.0
    assert (params.resolution_x, params.resolution_y) == (width, height)
    # the horizontal field of view is the solution's whatever sensor the camera is given
    other = apply_core.params_from_solution(_solution(width, height, 50.0, 0, 0, 0), sensor_width_mm=24.0)
    assert other.lens_mm / 24.0 == pytest.approx(params.lens_mm / 36.0)


def test_a_portrait_frame_under_blenders_auto_fit_would_be_178_times_too_long() -> None:
    """The measured pitfall: the effective focal length read back with sensor fit AUTO on 9:16."""
    relative = apply_core.relative_from_lens(50.0, 720, 1280, 36.0)
    auto = apply_core.effective_relative_focal(50.0, 36.0, "AUTO", 720, 1280, 24.0)
    assert auto / relative == pytest.approx(1280 / 720)
    assert apply_core.effective_relative_focal(50.0, 36.0, "HORIZONTAL", 720, 1280, 24.0) == pytest.approx(
        relative
    )


def test_the_matrix_is_the_solutions_transform_and_the_eye_height_replaces_its_height() -> None:
    solution = _solution(1280, 720, 35.0, 12.0, 4.0, -70.0)
    params = apply_core.params_from_solution(solution, camera_height_m=2.5)
    assert np.allclose(np.array(params.matrix_world)[:3, :3], camera_to_scene(12.0, 4.0, -70.0))
    assert params.matrix_world[2][3] == 2.5 and solution["camera_transform"][2][3] == 1.6
    pitch, roll, yaw = apply_core.angles_deg(params.matrix_world)
    assert (pitch, roll, yaw) == pytest.approx((12.0, 4.0, -70.0))


@pytest.mark.parametrize(("width", "height"), [(1280, 720), (720, 1280)])
def test_the_shift_puts_the_optical_axis_on_the_principal_point(width: int, height: int) -> None:
    principal = (0.1, -0.05)
    shift = apply_core.shift_from_principal(principal, width, height)
    # a positive principal x (axis right of the centre) is a negative shift, in units of the image width
    assert shift[0] == pytest.approx(-0.1 * max(width, height) / 2 / width)
    assert apply_core.principal_from_shift(*shift, width, height) == pytest.approx(principal)


def test_bad_solutions_are_refused_with_the_field_named() -> None:
    with pytest.raises(ValueError, match="relative focal"):
        apply_core.params_from_solution(_solution(1280, 720, 35.0, 0, 0, 0) | {"relative_focal": 0})
    with pytest.raises(ValueError, match="camera_transform"):
        apply_core.params_from_solution(_solution(1280, 720, 35.0, 0, 0, 0) | {"camera_transform": [[1.0]]})
    with pytest.raises(ValueError, match="image size"):
        apply_core.params_from_solution(_solution(1280, 720, 35.0, 0, 0, 0) | {"image_width": 0})


@pytest.mark.parametrize(
    ("width", "height", "fit"), [(1280, 720, "HORIZONTAL"), (720, 1280, "HORIZONTAL"), (720, 1280, "AUTO")]
)
def test_a_camera_written_as_fspy_and_read_back_is_the_same_camera(width: int, height: int, fit: str) -> None:
    matrix = np.eye(4)
    matrix[:3, :3] = camera_to_scene(-8.0, 3.0, 120.0)
    matrix[:3, 3] = (1.0, -4.0, 1.7)
    fields = apply_core.fspy_fields_from_camera(
        40.0, 36.0, 24.0, fit, (0.02, -0.01), matrix.tolist(), width, height
    )
    data = fspy.dumps(fspy.FspyProject(**fields, image=b"\x89PNG fake"))
    back = fspy.solution_fields(fspy.loads(data))
    params = apply_core.params_from_solution(back, sensor_width_mm=36.0)
    expected_relative = apply_core.effective_relative_focal(40.0, 36.0, fit, width, height, 24.0)
    assert back["relative_focal"] == pytest.approx(expected_relative)
    assert np.allclose(params.matrix_world, matrix)
    if fit == "HORIZONTAL":
        assert params.lens_mm == pytest.approx(40.0)
        assert (params.shift_x, params.shift_y) == pytest.approx((0.02, -0.01))
    else:  # AUTO on portrait: re-expressed for a horizontal fit, the same field of view and shift in pixels
        assert params.lens_mm == pytest.approx(40.0 * height / width)
        assert params.shift_x * width == pytest.approx(0.02 * height)


def test_the_exported_vanishing_points_are_where_the_scene_axes_vanish() -> None:
    rotation = camera_to_scene(10.0, -5.0, 35.0)
    matrix = np.eye(4)
    matrix[:3, :3] = rotation
    fields = apply_core.fspy_fields_from_camera(
        30.0, 36.0, 24.0, "HORIZONTAL", (0.0, 0.0), matrix.tolist(), 1280, 720
    )
    relative = fields["relative_focal"]
    for point, axis in zip(fields["vanishing_points"], fields["vanishing_point_axes"], strict=True):
        sign = -1.0 if axis.endswith("Negative") else 1.0
        far = rotation.T @ (sign * 1e6 * np.eye(3)["xyz".index(axis[0])])  # a point far along the axis
        assert far[2] < 0  # in front of the camera
        assert point == pytest.approx((relative * far[0] / -far[2], relative * far[1] / -far[2]))
    assert len(fields["vanishing_points"]) == 2


def test_the_overlay_has_two_vertices_per_line_and_the_horizon_coloured_by_axis() -> None:
    lines = [
        {"axis": "x", "a": [0.0, 0.0], "b": [1280.0, 720.0]},
        {"axis": "y", "a": [100.0, 50.0], "b": [200.0, 60.0]},
        {"axis": "z", "a": [640.0, 0.0], "b": [640.0, 720.0]},
    ]
    solution = _solution(
        1280, 720, 35.0, 0, 0, 0, lines=lines, horizon={"pixel_points": [[0, 300], [1280, 310]]}
    )
    # the camera frame drawn at half size, offset, in a region (y up)
    corners = apply_core.FrameCorners(
        top_left=(10.0, 370.0), top_right=(650.0, 370.0), bottom_left=(10.0, 10.0)
    )
    positions, colours = apply_core.overlay_vertices(solution, corners)
    assert len(positions) == len(colours) == 2 * len(lines) + 2
    assert positions[0] == (10.0, 370.0, 0.0) and positions[1] == (650.0, 10.0, 0.0)  # image corners
    assert colours[0] == apply_core.AXIS_COLOURS["x"] and colours[2] == apply_core.AXIS_COLOURS["y"]
    assert colours[4] == apply_core.AXIS_COLOURS["z"] and colours[-1] == apply_core.HORIZON_COLOUR
    assert positions[-2] == pytest.approx((10.0, 370.0 - 300 / 2, 0.0))
    # the artist's horizon replaces the solution's
    moved, _ = apply_core.overlay_vertices(solution, corners, horizon=[[0, 0], [1280, 720]])
    assert moved[-2:] == [(10.0, 370.0, 0.0), (650.0, 10.0, 0.0)]


def test_a_correction_sends_only_what_is_held() -> None:
    assert apply_core.Correction().body() == {"eye_height_m": 1.6}
    line = {"axis": "z", "a": [10.0, 20.0], "b": [12.0, 300.0]}
    body = apply_core.Correction(
        focal_mm=50.0,
        horizon=[[0, 300], [1280, 320]],
        preset_focal_mm=35.0,
        sensor_width_mm=36.0,
        eye_height_m=1.7,
        vanishing_lines=[line],
    ).body()
    assert body == {
        "focal_mm": 50.0,
        "horizon": {"a": [0.0, 300.0], "b": [1280.0, 320.0]},
        "preset_focal_mm": 35.0,
        "sensor_width_mm": 36.0,
        "eye_height_m": 1.7,
        "vanishing_lines": [line],
    }


def test_the_correction_body_is_what_the_server_accepts() -> None:
    """The server's request model (unknown fields refused) reads the body the add-on sends."""
    from sync_server.camera.schemas import CameraSolveRequest

    body = apply_core.Correction(focal_mm=50.0, horizon=[[0, 300], [1280, 320]], sensor_width_mm=36.0).body()
    request = CameraSolveRequest.model_validate(body)
    assert request.focal_mm == 50.0 and request.horizon.a == [0.0, 300.0] and request.eye_height_m == 1.6


def test_the_horizon_falls_back_to_the_middle_of_the_frame() -> None:
    assert apply_core.horizon_pixels({"image_width": 100, "image_height": 50}) == [[0.0, 25.0], [100.0, 25.0]]
    assert math.isclose(apply_core.lens_from_relative(1.0, 1280, 720, 36.0), 18.0)


def _intersection(pair: list, width: int, height: int) -> tuple[float, float]:
    (a, b), (c, d) = ([apply_core.relative_to_plane(p, width, height) for p in seg] for seg in pair)
    r = (b[0] - a[0], b[1] - a[1])
    s = (d[0] - c[0], d[1] - c[1])
    t = ((c[0] - a[0]) * s[1] - (c[1] - a[1]) * s[0]) / (r[0] * s[1] - r[1] * s[0])
    return a[0] + t * r[0], a[1] + t * r[1]


@pytest.mark.parametrize(("width", "height", "shift"), [(1280, 720, (0.0, 0.0)), (720, 1280, (0.03, -0.02))])
def test_the_fspy_app_state_has_control_lines_meeting_at_the_cameras_vanishing_points(
    width, height, shift
) -> None:
    """fSpy recomputes the camera from its control points when it opens a project: the exported line pairs
    meet at the camera's vanishing points, the principal point and horizon are the camera's."""
    matrix = np.eye(4)
    matrix[:3, :3] = camera_to_scene(9.0, -4.0, 35.0)
    fields = apply_core.fspy_fields_from_camera(
        30.0, 36.0, 24.0, "HORIZONTAL", shift, matrix.tolist(), width, height
    )
    state = apply_core.fspy_app_state(fields, 30.0, 36.0, 24.0)
    base, two = state["controlPointsStateBase"], state["controlPointsState2VP"]
    first = _intersection(base["firstVanishingPoint"]["lineSegments"], width, height)
    second = _intersection(two["secondVanishingPoint"]["lineSegments"], width, height)
    assert first == pytest.approx(fields["vanishing_points"][0], abs=1e-9)
    assert second == pytest.approx(fields["vanishing_points"][1], abs=1e-9)
    third, _ = apply_core.vanishing_point(matrix[2, :3], fields["relative_focal"], fields["principal_point"])
    assert _intersection(two["thirdVanishingPoint"]["lineSegments"], width, height) == pytest.approx(
        third, abs=1e-9
    )
    assert apply_core.relative_to_plane(base["principalPoint"], width, height) == pytest.approx(
        fields["principal_point"]
    )
    assert state["calibrationSettings2VP"]["principalPointMode"] == (
        "Manual" if shift != (0.0, 0.0) else "Default"
    )
    settings = state["calibrationSettingsBase"]
    assert [settings["firstVanishingPointAxis"], settings["secondVanishingPointAxis"]] == fields[
        "vanishing_point_axes"
    ]
    assert settings["cameraData"]["customSensorWidth"] == 36.0
    # the three vanishing points are mutually orthogonal about the principal point (fSpy's own check)
    p = fields["principal_point"]
    f2 = -((first[0] - p[0]) * (second[0] - p[0]) + (first[1] - p[1]) * (second[1] - p[1]))
    assert math.sqrt(f2) == pytest.approx(fields["relative_focal"], rel=1e-9)
    # every control point of the saved lines lies in the picture
    for pair in (base["firstVanishingPoint"], two["secondVanishingPoint"], two["thirdVanishingPoint"]):
        for segment in pair["lineSegments"]:
            assert all(0.0 <= point["x"] <= 1.0 and 0.0 <= point["y"] <= 1.0 for point in segment)
    # and the saved project reads back with the camera and the state
    project = fspy.loads(fspy.dumps(fspy.FspyProject(**fields, extra_state=state)))
    assert project.extra_state["controlPointsState2VP"] == json_roundtrip(two)


def json_roundtrip(value):
    import json

    return json.loads(json.dumps(value))
