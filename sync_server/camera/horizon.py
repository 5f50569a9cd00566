"""The artist's horizon held fixed: the camera turned (pitch and roll) so the horizon runs through the two
points the artist placed, the solve's heading (yaw) and focal length kept.

The horizon is where the scene's ground plane vanishes: for the camera's up direction u (camera coordinates,
looking down −z) it is the image-plane line u·(x, y, −f) = 0, so a line (a, b, c) gives u ∝ (a, b, −c / f).
"""

from __future__ import annotations

import math

import numpy as np

from ..camera_solve import CameraSolution
from ..camera_solve.lines import ImageFrame
from ..camera_solve.orientation import horizon_line, pitch_roll_yaw
from ..camera_solve.result import Horizon, VanishingPoint


def horizon_of(focal: float, axes: np.ndarray, frame: ImageFrame) -> Horizon:
    """The horizon of a camera (scene axes as columns in camera coordinates) across the picture."""
    line = horizon_line(focal, axes)
    half_w = frame.width / frame.scale / 2.0
    ends = []
    for x in (-half_w, half_w):
        y = -(line[0] * x + line[2]) / line[1] if abs(line[1]) > 1e-9 else 0.0
        ends.append([float(v) for v in frame.to_pixels(np.array([x, y]))])
    angle = math.degrees(math.atan2(-line[0], line[1])) if abs(line[1]) > 1e-9 else 90.0
    return Horizon(plane_line=[float(v) for v in line], pixel_points=ends, angle_deg=angle)


def vanishing_point(
    axis: str, direction: np.ndarray, focal: float, frame: ImageFrame, lines: int
) -> VanishingPoint:
    plane = pixel = None
    if abs(direction[2]) > math.cos(math.radians(89.0)):
        xy = -focal * direction[:2] / direction[2]
        plane = [float(xy[0]), float(xy[1])]
        pixel = [float(v) for v in frame.to_pixels(xy)]
    return VanishingPoint(
        axis=axis, direction=[float(v) for v in direction], plane=plane, pixel=pixel, lines=lines
    )


def hold_horizon(solution: CameraSolution, a_px: list[float], b_px: list[float]) -> CameraSolution:
    """The solution turned so its horizon passes through pixels `a_px` and `b_px` (ValueError if they do
    not make a line)."""
    frame = ImageFrame(solution.image_width, solution.image_height)
    first, second = frame.to_plane(np.array([a_px, b_px], dtype=float))
    if float(np.linalg.norm(first - second)) < 1e-6:
        raise ValueError("the two horizon points are the same point")
    line = np.cross([first[0], first[1], 1.0], [second[0], second[1], 1.0])
    focal = solution.relative_focal
    up = np.array([line[0], line[1], -line[2] / focal])
    up /= np.linalg.norm(up)
    if up[1] < 0:  # the scene's up points up the picture, not down
        up = -up
    old = np.asarray(solution.camera_to_scene, dtype=float).T  # columns: scene X, Y, Z in camera coordinates
    # Keep the solve's heading: its scene X made perpendicular to the new up (or its Y, if X is the up).
    for column in (0, 1):
        x = old[:, column] - up * float(up @ old[:, column])
        if float(np.linalg.norm(x)) > 1e-6:
            break
    x /= np.linalg.norm(x)
    if column == 1:
        x = np.cross(x, up)
    y = np.cross(up, x)
    axes = np.column_stack([x, y, up])
    counts = {p.axis: p.lines for p in solution.vanishing_points}
    return turned_solution(solution, axes, frame, counts)


def turned_solution(
    solution: CameraSolution, axes: np.ndarray, frame: ImageFrame, counts: dict[str, int]
) -> CameraSolution:
    """The solution with the camera turned to `axes` (scene X, Y, Z as columns in camera coordinates; focal
    kept): its angles, transform and horizon follow, and the vanishing points of the axes in `counts`
    (axis → lines drawn to it)."""
    focal = solution.relative_focal
    pitch, roll, yaw = pitch_roll_yaw(axes)
    camera_to_scene = axes.T
    transform = [list(row) for row in solution.camera_transform]
    for r in range(3):
        transform[r][:3] = [float(v) for v in camera_to_scene[r]]
    points = [
        vanishing_point(name, axes[:, "xyz".index(name)], focal, frame, counts[name])
        for name in "xyz"
        if name in counts
    ]
    return solution.model_copy(
        update={
            "pitch_deg": pitch,
            "roll_deg": roll,
            "yaw_deg": yaw,
            "camera_to_scene": [[float(v) for v in row] for row in camera_to_scene],
            "camera_transform": transform,
            "horizon": horizon_of(focal, axes, frame),
            "vanishing_points": points,
        }
    )
