"""The camera convention of the set and the solver: pitch, roll, yaw (degrees) → camera-to-scene rotation.

Scene Z up; yaw 0 looks down scene +Y; positive pitch looks up; roll turns the camera about its view axis.
numpy only, so both Blender's Python and the test venv can use it.
"""

from __future__ import annotations

import math

import numpy as np


def camera_to_scene(pitch_deg: float, roll_deg: float, yaw_deg: float) -> np.ndarray:
    pitch, roll, yaw = (math.radians(v) for v in (pitch_deg, roll_deg, yaw_deg))
    roll_m = np.array(
        [[math.cos(roll), -math.sin(roll), 0], [math.sin(roll), math.cos(roll), 0], [0, 0, 1.0]]
    )
    tilt = math.pi / 2 + pitch
    tilt_m = np.array(
        [[1.0, 0, 0], [0, math.cos(tilt), -math.sin(tilt)], [0, math.sin(tilt), math.cos(tilt)]]
    )
    yaw_m = np.array([[math.cos(yaw), -math.sin(yaw), 0], [math.sin(yaw), math.cos(yaw), 0], [0, 0, 1.0]])
    return yaw_m @ tilt_m @ roll_m
