"""An fSpy project as a camera solution (the alternative input), and a solution as an fSpy project."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from aipipe_shared import fspy
from aipipe_shared.fspy import FspyProject

from ..camera_solve import CameraSolution
from ..camera_solve.lines import ImageFrame
from ..camera_solve.orientation import camera_to_scene_angles
from ..camera_solve.result import VanishingPoint
from .horizon import horizon_of

FSPY_SOLVER = "fspy"


def solution_of_project(project: FspyProject, sensor_width_mm: float) -> CameraSolution:
    """The camera an fSpy project describes, in the solver's model (no lines: the artist placed it)."""
    fields = fspy.solution_fields(project)
    frame = ImageFrame(project.image_width, project.image_height)
    camera_to_scene = np.asarray(fields["camera_to_scene"], dtype=float)
    if camera_to_scene.shape != (3, 3) or not np.allclose(
        camera_to_scene @ camera_to_scene.T, np.eye(3), atol=1e-3
    ):
        raise fspy.FspyError("the camera transform is not a rotation")
    axes = camera_to_scene.T
    focal = float(project.relative_focal)
    if not (math.isfinite(focal) and focal > 0):
        raise fspy.FspyError("the relative focal length is not a positive number")
    pitch, roll, yaw = camera_to_scene_angles(camera_to_scene)
    points = []
    for point in fields["vanishing_points"]:
        axis = point["axis"] if point["axis"] in ("x", "y", "z") else "x"
        direction = axes[:, "xyz".index(axis)]
        plane = [float(v) for v in point["plane"]]
        points.append(
            VanishingPoint(
                axis=axis,
                direction=[float(v) for v in direction],
                plane=plane,
                pixel=[float(v) for v in frame.to_pixels(np.array(plane))],
                lines=0,
            )
        )
    focal_px = focal * frame.scale
    finite = len(points)
    return CameraSolution(
        solver_version=FSPY_SOLVER,
        image_width=project.image_width,
        image_height=project.image_height,
        accepted=True,
        case={3: "three_point", 2: "two_point", 1: "one_point"}.get(finite, "none"),  # type: ignore[arg-type]
        focal_source="picture",
        orientation_source="picture",
        relative_focal=focal,
        focal_px=focal_px,
        focal_mm=focal * frame.scale / frame.width * sensor_width_mm,
        sensor_width_mm=sensor_width_mm,
        horizontal_fov_deg=math.degrees(project.horizontal_fov),
        principal_point=list(fields["principal_point"]),
        k1=0.0,
        pitch_deg=pitch,
        roll_deg=roll,
        yaw_deg=yaw,
        camera_to_scene=[[float(v) for v in row] for row in camera_to_scene],
        camera_height_m=float(fields["camera_height_m"]),
        camera_transform=[[float(v) for v in row] for row in fields["camera_transform"]],
        horizon=horizon_of(focal, axes, frame),
        vanishing_points=points,
        lines=[],
        confidence=1.0,
        support=1.0,
        log_focal_sigma=None,
        segments=0,
        seconds=0.0,
        **_unsolved_fields(),
    )


def _unsolved_fields() -> dict[str, Any]:
    """Fields of newer solver versions that a camera placed in fSpy has no value for."""
    return {name: None for name in ("picture_focal_mm",) if name in CameraSolution.model_fields}


def project_bytes(solution: dict[str, Any], image: bytes) -> bytes:
    """The stored solution as a `.fspy` file carrying the picture."""
    return fspy.dumps(fspy.project_from_solution(solution, image))
