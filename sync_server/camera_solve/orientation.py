"""Scene axes from the three vanishing directions, and the camera's pitch, roll, yaw and horizon.

Scene Z is up (Blender's convention): the vanishing direction closest to the camera's up axis, which holds for
pitches within ±45°. Scene X is the horizontal direction closest to the camera's right, so yaw lies within
±45° of looking down scene +Y (yaw is only defined up to the scene's quarter turns).
"""

from __future__ import annotations

import math

import numpy as np


def scene_axes(rotation: np.ndarray) -> np.ndarray:
    """(3, 3) matrix whose columns are scene X, Y, Z in camera coordinates (a proper rotation)."""
    up_index = int(np.argmax(np.abs(rotation[1, :])))
    up = rotation[:, up_index] * np.sign(rotation[1, up_index])
    others = [i for i in range(3) if i != up_index]
    right_index = max(others, key=lambda i: abs(rotation[0, i]))
    right = rotation[:, right_index] * (1.0 if rotation[0, right_index] >= 0 else -1.0)
    right = right - np.dot(right, up) * up
    right /= np.linalg.norm(right)
    forward = np.cross(up, right)
    return np.stack([right, forward, up], axis=1)


def pitch_roll_yaw(axes: np.ndarray) -> tuple[float, float, float]:
    """Degrees: pitch (looking up +), roll (turned counter-clockwise +), yaw (about scene Z)."""
    camera_to_scene = axes.T
    right, up_axis, back = camera_to_scene[:, 0], camera_to_scene[:, 1], camera_to_scene[:, 2]
    view = -back
    pitch = math.degrees(math.asin(float(np.clip(view[2], -1.0, 1.0))))
    roll = math.degrees(math.atan2(float(right[2]), float(up_axis[2])))
    yaw = math.degrees(math.atan2(float(-view[0]), float(view[1])))
    return pitch, roll, yaw


def camera_to_scene_angles(camera_to_scene: np.ndarray) -> tuple[float, float, float]:
    """pitch, roll, yaw (degrees) of a camera-to-scene rotation (e.g. a Blender camera's matrix_world)."""
    return pitch_roll_yaw(np.asarray(camera_to_scene, dtype=float).T)


def horizon_line(focal: float, axes: np.ndarray) -> np.ndarray:
    """Homogeneous image-plane line (a, b, c) of the horizon: a·x + b·y + c = 0, normalised so a² + b² = 1."""
    up = axes[:, 2]
    # Ray (x, y, −f) is horizontal when up·ray = 0.
    line = np.array([up[0], up[1], -focal * up[2]])
    return line / max(float(np.hypot(line[0], line[1])), 1e-12)


def level_axes(pitch_deg: float = 0.0, roll_deg: float = 0.0) -> np.ndarray:
    """Scene axes for a camera with the given pitch and roll and yaw 0 (the fallback's default)."""
    pitch, roll = math.radians(pitch_deg), math.radians(roll_deg)
    # camera-to-scene for yaw 0: looking down +Y, pitched about X, then rolled about the view axis.
    roll_matrix = np.array(
        [[math.cos(roll), -math.sin(roll), 0.0], [math.sin(roll), math.cos(roll), 0.0], [0.0, 0.0, 1.0]]
    )
    tilt = math.pi / 2 + pitch
    pitch_matrix = np.array(
        [[1.0, 0.0, 0.0], [0.0, math.cos(tilt), -math.sin(tilt)], [0.0, math.sin(tilt), math.cos(tilt)]]
    )
    camera_to_scene = pitch_matrix @ roll_matrix
    return camera_to_scene.T
