"""Camera height (the scene's scale) from a reference the artist gives."""

from __future__ import annotations

import numpy as np

DEFAULT_EYE_HEIGHT_M = 1.6


def ground_point(
    plane_xy: np.ndarray, focal: float, camera_to_scene: np.ndarray, height: float
) -> np.ndarray:
    """Where the ray through an image-plane point meets the ground (z = 0), the camera at (0, 0, height)."""
    ray = camera_to_scene @ np.array([plane_xy[0], plane_xy[1], -focal])
    if ray[2] >= -1e-9:
        raise ValueError("the point is on or above the horizon, so it is not on the ground")
    distance = -height / ray[2]
    return np.array([0.0, 0.0, height]) + distance * ray


def height_from_ground_length(
    first: np.ndarray, second: np.ndarray, length_m: float, focal: float, camera_to_scene: np.ndarray
) -> float:
    """Camera height such that two image-plane points on the ground lie length_m apart."""
    if length_m <= 0:
        raise ValueError("the known length must be positive")
    at_unit = np.linalg.norm(
        ground_point(first, focal, camera_to_scene, 1.0) - ground_point(second, focal, camera_to_scene, 1.0)
    )
    if at_unit < 1e-12:
        raise ValueError("the two points are the same place on the ground")
    return float(length_m / at_unit)
