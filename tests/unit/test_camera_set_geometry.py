"""The set's measure of how well a camera's visible edges pin its focal length down (camera_set/geometry.py):
small for a general view, open for a pitched camera square-on to a wall that shows no edge in depth, and
closed again by edges along the depth axis."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scripts.camera_set.camera import camera_to_scene
from scripts.camera_set.geometry import log_focal_sigma

WIDTH, HEIGHT = 1280, 720


def _edges(rotation: np.ndarray, focal_px: float, segments: list[tuple[tuple, tuple, int]]):
    """Project scene segments (start, end, axis) seen from a camera 1.6 m above the origin into pixels."""
    eye = np.array([0.0, 0.0, 1.6])
    to_camera = rotation.T
    centre = np.array([(WIDTH - 1) / 2.0, (HEIGHT - 1) / 2.0])
    ends_a, ends_b, axes = [], [], []
    for start, end, axis in segments:
        pixels = []
        for point in (start, end):
            camera = to_camera @ (np.array(point, dtype=float) - eye)
            assert camera[2] < 0, "the test's edges must lie in front of the camera"
            pixels.append(np.array([camera[0], -camera[1]]) * focal_px / -camera[2] + centre)
        ends_a.append(pixels[0])
        ends_b.append(pixels[1])
        axes.append(axis)
    return np.array(ends_a), np.array(ends_b), np.array(axes), to_camera


def _wall_edges(y: float) -> list[tuple[tuple, tuple, int]]:
    """A wall across scene Y = y: its rows of tiles (edges along X) and columns (edges along Z)."""
    rows = [((-3.0, y, z), (3.0, y, z), 0) for z in np.linspace(0.5, 3.5, 5)]
    columns = [((x, y, 0.5), (x, y, 3.5), 2) for x in np.linspace(-2.5, 2.5, 6)]
    return rows + columns


def test_a_general_view_pins_the_focal_length_down() -> None:
    rotation = camera_to_scene(10.0, 3.0, 35.0)
    focal_px = 1.5 * 640
    boxes = []
    for x0, y0 in ((-4.0, 8.0), (3.0, 10.0), (-1.0, 14.0)):
        for z in (0.0, 2.5):
            boxes += [((x0, y0, z), (x0 + 2.0, y0, z), 0), ((x0, y0, z), (x0, y0 + 2.0, z), 1)]
        boxes += [((x0, y0, 0.0), (x0, y0, 2.5), 2), ((x0 + 2.0, y0, 0.0), (x0 + 2.0, y0, 2.5), 2)]
    sigma = log_focal_sigma(*_edges(rotation, focal_px, boxes), focal_px, (WIDTH, HEIGHT))
    assert sigma < 0.02


def test_a_pitched_camera_square_on_to_a_wall_leaves_the_focal_length_open_until_depth_edges_show() -> None:
    rotation = camera_to_scene(12.0, 4.0, 0.0)  # looking down +Y at a wall across Y, pitched up
    focal_px = 1.8 * 640
    wall = _wall_edges(6.0)
    open_sigma = log_focal_sigma(*_edges(rotation, focal_px, wall), focal_px, (WIDTH, HEIGHT))
    assert not math.isfinite(open_sigma) or open_sigma > 1.0
    depth = [((x, 3.0, 0.0), (x, 5.5, 0.0), 1) for x in (-1.5, -0.5, 0.5, 1.5)]
    closed = log_focal_sigma(*_edges(rotation, focal_px, wall + depth), focal_px, (WIDTH, HEIGHT))
    assert closed < 0.05 < open_sigma


def test_fewer_than_four_edges_say_nothing() -> None:
    rotation = camera_to_scene(5.0, 0.0, 30.0)
    a, b, axes, to_camera = _edges(rotation, 900.0, _wall_edges(6.0)[:3])
    assert log_focal_sigma(a, b, axes, to_camera, 900.0, (WIDTH, HEIGHT)) == float("inf")


def test_axis_angles_to_the_image_plane_follow_pitch_and_yaw() -> None:
    from scripts.camera_set.geometry import axis_angles_deg

    x, y, z = axis_angles_deg(camera_to_scene(12.0, 5.0, 0.0).T)  # square-on to X, pitched up 12°
    assert x == pytest.approx(0.0, abs=1e-9) and y == pytest.approx(78.0) and z == pytest.approx(12.0)
    x, y, z = axis_angles_deg(camera_to_scene(0.0, -3.0, 30.0).T)  # level, 30° off square
    assert x == pytest.approx(30.0) and y == pytest.approx(60.0) and z == pytest.approx(0.0, abs=1e-9)


def test_a_view_locates_two_vanishing_points_only_with_enough_edges_away_from_infinity() -> None:
    from scripts.camera_set.geometry import FINITE_DEG, MIN_EDGES, located_axes

    oblique = camera_to_scene(12.0, 0.0, 35.0).T
    assert located_axes([MIN_EDGES, MIN_EDGES, MIN_EDGES], oblique) == [0, 1, 2]
    assert located_axes([MIN_EDGES - 1, MIN_EDGES, 0], oblique) == [1]
    # Pitched and square-on to a wall: its rows run parallel to the image plane, nothing runs into the room.
    square_on = camera_to_scene(12.0, 4.0, 0.0).T
    assert located_axes([40, 0, 30], square_on) == [2]
    assert located_axes([40, MIN_EDGES, 30], square_on) == [1, 2]
    # The same bound holds for the vertical axis: just under FINITE_DEG of pitch it is not located.
    assert located_axes([20, 20, 20], camera_to_scene(FINITE_DEG - 0.1, 0.0, 0.0).T) == [1]
    assert located_axes([20, 20, 20], camera_to_scene(FINITE_DEG + 0.1, 0.0, 0.0).T) == [1, 2]
