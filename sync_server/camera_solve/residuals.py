"""How well segments point at vanishing points: the measure every step of the solve minimises or counts.

A camera is (relative focal f, rotation M, radial distortion k1). M's columns are the scene's three axes in
camera coordinates (camera looking along −z, y up), so axis i vanishes at the homogeneous image point
(f·M[0,i], f·M[1,i], −M[2,i]). Distortion is one radial term in image-plane units: an observed point p lies
where the straight-line image has p·(1 + k1·|p|²).
"""

from __future__ import annotations

import numpy as np

from .lines import Segments


def undistort(points: np.ndarray, k1: float) -> np.ndarray:
    """Image-plane points as a distortion-free camera would show them."""
    if k1 == 0.0:
        return points
    r2 = np.sum(points * points, axis=-1, keepdims=True)
    return points * (1.0 + k1 * r2)


def vanishing_points(focal: float, rotation: np.ndarray) -> np.ndarray:
    """(3, 3) homogeneous vanishing points, one row per scene axis."""
    return np.stack([focal * rotation[0], focal * rotation[1], -rotation[2]], axis=1)


def sin_angles(segments: Segments, points: np.ndarray, k1: float = 0.0) -> np.ndarray:
    """(N, K) |sin| of the angle between each segment and the line from its midpoint to each vanishing point.

    points is (K, 3) homogeneous, so points at infinity (w = 0) need no special case.
    """
    a = undistort(segments.a, k1)
    b = undistort(segments.b, k1)
    mid = 0.5 * (a + b)
    direction = b - a
    towards_x = points[None, :, 0] - mid[:, None, 0] * points[None, :, 2]
    towards_y = points[None, :, 1] - mid[:, None, 1] * points[None, :, 2]
    cross = direction[:, None, 0] * towards_y - direction[:, None, 1] * towards_x
    norms = np.linalg.norm(direction, axis=1)[:, None] * np.hypot(towards_x, towards_y)
    return np.abs(cross) / np.maximum(norms, 1e-12)


def rotation_from_vector(vector: np.ndarray) -> np.ndarray:
    """Rodrigues: the rotation by |vector| radians about vector."""
    angle = float(np.linalg.norm(vector))
    if angle < 1e-12:
        return np.eye(3)
    axis = vector / angle
    cross = np.array([[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]], [-axis[1], axis[0], 0.0]])
    return np.eye(3) + np.sin(angle) * cross + (1.0 - np.cos(angle)) * (cross @ cross)


def nearest_rotation(matrix: np.ndarray) -> np.ndarray:
    """The proper rotation closest to a 3×3 matrix."""
    u, _, vt = np.linalg.svd(matrix)
    rotation = u @ vt
    if np.linalg.det(rotation) < 0:
        u[:, -1] *= -1.0
        rotation = u @ vt
    return rotation
