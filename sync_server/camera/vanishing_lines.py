"""The artist's vanishing lines held fixed: the camera turned, as little as it takes, so each scene axis the
artist drew lines for vanishes where those lines meet (one line: on that line; two or more: at their meeting
point). The solve's focal length (or the one the artist typed) is kept; only the rotation moves.

A line through image-plane points p and q is seen along the plane through the camera centre with normal
n = (p, −f) × (q, −f) (camera coordinates, looking down −z); a scene axis whose direction d (camera
coordinates) vanishes on the line has n·d = 0. The rotation R = exp([w]ₓ)·R₀ minimises Σ (n·R d)² + ε|w|² by
Gauss–Newton (ε keeps the turn smallest where the lines do not fix all three angles).
"""

from __future__ import annotations

import math

import numpy as np

from ..camera_solve import CameraSolution
from ..camera_solve.lines import ImageFrame
from .horizon import turned_solution

AXES = "xyz"
DAMPING = 1e-6  # ε: the smallest turn where the lines leave an angle free
ITERATIONS = 30


def _rotation(w: np.ndarray) -> np.ndarray:
    """Rodrigues: the rotation by |w| about w."""
    angle = float(np.linalg.norm(w))
    if angle < 1e-15:
        return np.eye(3)
    k = w / angle
    cross = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + math.sin(angle) * cross + (1.0 - math.cos(angle)) * cross @ cross


def line_normals(
    lines: list[tuple[str, list[float], list[float]]], focal: float, frame: ImageFrame
) -> list[tuple[int, np.ndarray]]:
    """(axis index, unit normal of the line's plane through the camera) per line; ValueError names the line
    whose two points are the same."""
    normals = []
    for index, (axis, a_px, b_px) in enumerate(lines):
        first, second = frame.to_plane(np.array([a_px, b_px], dtype=float))
        if float(np.linalg.norm(first - second)) < 1e-6:
            raise ValueError(f"vanishing_lines[{index}]: the line's two points are the same point")
        normal = np.cross([first[0], first[1], -focal], [second[0], second[1], -focal])
        normals.append((AXES.index(axis), normal / np.linalg.norm(normal)))
    return normals


def turned_axes(axes: np.ndarray, normals: list[tuple[int, np.ndarray]]) -> np.ndarray:
    """The scene axes (columns, camera coordinates) turned so each lies in its lines' planes."""
    w = np.zeros(3)
    for _ in range(ITERATIONS):
        current = _rotation(w) @ axes
        residuals = np.array([n @ current[:, i] for i, n in normals] + list(math.sqrt(DAMPING) * w))
        jacobian = np.zeros((len(residuals), 3))
        for k in range(3):
            step = np.zeros(3)
            step[k] = 1e-7
            moved = _rotation(w + step) @ axes
            shifted = np.array([n @ moved[:, i] for i, n in normals] + list(math.sqrt(DAMPING) * (w + step)))
            jacobian[:, k] = (shifted - residuals) / 1e-7
        delta = np.linalg.lstsq(jacobian, -residuals, rcond=None)[0]
        w = w + delta
        if float(np.linalg.norm(delta)) < 1e-12:
            break
    return _rotation(w) @ axes


def hold_lines(solution: CameraSolution, lines: list[tuple[str, list[float], list[float]]]) -> CameraSolution:
    """The solution turned so each axis's vanishing point lies on the artist's lines for it (ValueError names
    a line that is not one)."""
    frame = ImageFrame(solution.image_width, solution.image_height)
    focal = solution.relative_focal
    normals = line_normals(lines, focal, frame)
    old = np.asarray(solution.camera_to_scene, dtype=float).T  # columns: scene X, Y, Z in camera coordinates
    axes = turned_axes(old, normals)
    # re-orthonormalise (numerical drift), keeping a right-handed frame
    u, _, vt = np.linalg.svd(axes)
    axes = u @ vt
    counts = {p.axis: p.lines for p in solution.vanishing_points}
    for axis, _a, _b in lines:
        counts.setdefault(axis, 0)
    return turned_solution(solution, axes, frame, counts)
