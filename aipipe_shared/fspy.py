"""fSpy project files (`.fspy`), read and written with the standard library only (the add-on carries this).

Layout: 16-byte header — ASCII `fspy`, then uint32 little-endian: format version (1), JSON length, image
length — then the JSON state (UTF-8) and the image bytes. The state's `cameraParameters` hold the principal
point and vanishing points in fSpy's image-plane units (centre 0, long side ±1, y up), the camera transform
(4×4 camera-to-world, `{"rows": [...]}`), the fields of view (radians), the relative focal length (focal in
pixels / half the long side) and the image size.

Our camera solution (sync_server.camera_solve.result.CameraSolution, as a dict) maps onto these: see
`project_from_solution` and `solution_fields`.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MAGIC = b"fspy"
VERSION = 1
HEADER = struct.Struct("<4sIII")
AXES = ("xPositive", "yPositive", "zPositive")


class FspyError(ValueError):
    """The bytes are not an fSpy project this module can read."""


@dataclass
class FspyProject:
    image_width: int
    image_height: int
    relative_focal: float
    camera_transform: list[list[float]]  # 4×4 rows, camera-to-world
    principal_point: tuple[float, float] = (0.0, 0.0)
    vanishing_points: list[tuple[float, float]] = field(default_factory=list)
    vanishing_point_axes: list[str] = field(default_factory=lambda: list(AXES[:2]))
    image: bytes = b""
    reference_distance_unit: str = "Meters"
    extra_state: dict[str, Any] = field(default_factory=dict)  # the rest of fSpy's state, kept as read

    @property
    def horizontal_fov(self) -> float:
        """Radians, across the image width."""
        half_width = self.image_width / max(self.image_width, self.image_height)
        return 2.0 * math.atan(half_width / self.relative_focal)

    @property
    def vertical_fov(self) -> float:
        half_height = self.image_height / max(self.image_width, self.image_height)
        return 2.0 * math.atan(half_height / self.relative_focal)

    def state(self) -> dict[str, Any]:
        """fSpy's JSON state for this project."""
        state = dict(self.extra_state)
        base = dict(state.get("calibrationSettingsBase") or {})
        base["referenceDistanceUnit"] = self.reference_distance_unit
        state["calibrationSettingsBase"] = base
        state["cameraParameters"] = {
            "principalPoint": {"x": self.principal_point[0], "y": self.principal_point[1]},
            "viewTransform": {"rows": _inverse_rigid(self.camera_transform)},
            "cameraTransform": {"rows": [list(row) for row in self.camera_transform]},
            "horizontalFieldOfView": self.horizontal_fov,
            "verticalFieldOfView": self.vertical_fov,
            "vanishingPoints": [{"x": x, "y": y} for x, y in self.vanishing_points],
            "vanishingPointAxes": list(self.vanishing_point_axes),
            "relativeFocalLength": self.relative_focal,
            "imageWidth": self.image_width,
            "imageHeight": self.image_height,
        }
        return state


def _inverse_rigid(rows: list[list[float]]) -> list[list[float]]:
    """Inverse of a rotation + translation 4×4 (the view transform fSpy stores beside the camera's)."""
    rotation = [[rows[c][r] for c in range(3)] for r in range(3)]  # transpose
    translation = [rows[r][3] for r in range(3)]
    moved = [-sum(rotation[r][c] * translation[c] for c in range(3)) for r in range(3)]
    return [rotation[r] + [moved[r]] for r in range(3)] + [[0.0, 0.0, 0.0, 1.0]]


def dumps(project: FspyProject) -> bytes:
    """The `.fspy` bytes of a project."""
    state = json.dumps(project.state(), ensure_ascii=False).encode("utf-8")
    return HEADER.pack(MAGIC, VERSION, len(state), len(project.image)) + state + project.image


def loads(data: bytes) -> FspyProject:
    """Parse `.fspy` bytes; FspyError names what is wrong."""
    if len(data) < HEADER.size:
        raise FspyError(f"an fSpy file has a {HEADER.size}-byte header; this has {len(data)} bytes")
    magic, version, state_size, image_size = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise FspyError("not an fSpy project (the file does not start with 'fspy')")
    if version != VERSION:
        raise FspyError(f"fSpy project format version {version} is not supported (only {VERSION})")
    if HEADER.size + state_size + image_size > len(data):
        raise FspyError("the fSpy file is truncated (shorter than its header says)")
    try:
        state = json.loads(data[HEADER.size : HEADER.size + state_size].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FspyError(f"the fSpy project's state is not JSON: {exc}") from exc
    parameters = state.get("cameraParameters") if isinstance(state, dict) else None
    if not isinstance(parameters, dict):
        raise FspyError("the fSpy project holds no camera parameters (it was saved before a solve)")
    try:
        width, height = int(parameters["imageWidth"]), int(parameters["imageHeight"])
        relative = parameters.get("relativeFocalLength")
        if relative is None:  # older files: from the horizontal field of view
            half_width = width / max(width, height)
            relative = half_width / math.tan(float(parameters["horizontalFieldOfView"]) / 2.0)
        transform = [[float(v) for v in row] for row in parameters["cameraTransform"]["rows"]]
        principal = parameters.get("principalPoint") or {"x": 0.0, "y": 0.0}
        points = [(float(p["x"]), float(p["y"])) for p in parameters.get("vanishingPoints") or []]
    except (KeyError, TypeError, ValueError) as exc:
        raise FspyError(f"the fSpy camera parameters are incomplete: {exc!r}") from exc
    if len(transform) != 4 or any(len(row) != 4 for row in transform):
        raise FspyError("the fSpy camera transform is not a 4×4 matrix")
    base = state.get("calibrationSettingsBase") or {}
    extra = {k: v for k, v in state.items() if k != "cameraParameters"}
    start = HEADER.size + state_size
    return FspyProject(
        image_width=width,
        image_height=height,
        relative_focal=float(relative),
        camera_transform=transform,
        principal_point=(float(principal["x"]), float(principal["y"])),
        vanishing_points=points,
        vanishing_point_axes=[str(a) for a in parameters.get("vanishingPointAxes") or AXES[: len(points)]],
        image=data[start : start + image_size],
        reference_distance_unit=str(base.get("referenceDistanceUnit", "Meters")),
        extra_state=extra,
    )


def project_from_solution(solution: Mapping[str, Any], image: bytes = b"") -> FspyProject:
    """An fSpy project from a camera solution (CameraSolution.model_dump()) and the picture's bytes."""
    points: list[tuple[float, float]] = []
    axes: list[str] = []
    for point in solution.get("vanishing_points") or []:
        if point.get("plane") is not None:
            points.append((float(point["plane"][0]), float(point["plane"][1])))
            axes.append(f"{point['axis']}Positive")
    principal = solution.get("principal_point") or [0.0, 0.0]
    return FspyProject(
        image_width=int(solution["image_width"]),
        image_height=int(solution["image_height"]),
        relative_focal=float(solution["relative_focal"]),
        camera_transform=[[float(v) for v in row] for row in solution["camera_transform"]],
        principal_point=(float(principal[0]), float(principal[1])),
        vanishing_points=points,
        vanishing_point_axes=axes,
        image=image,
    )


def solution_fields(project: FspyProject) -> dict[str, Any]:
    """The camera-solution fields an fSpy project determines (a correction or an imported camera)."""
    transform = project.camera_transform
    return {
        "image_width": project.image_width,
        "image_height": project.image_height,
        "relative_focal": project.relative_focal,
        "focal_px": project.relative_focal * max(project.image_width, project.image_height) / 2.0,
        "horizontal_fov_deg": math.degrees(project.horizontal_fov),
        "principal_point": [project.principal_point[0], project.principal_point[1]],
        "camera_transform": [list(row) for row in transform],
        "camera_to_scene": [row[:3] for row in transform[:3]],
        "camera_height_m": transform[2][3],
        "vanishing_points": [
            {"axis": axis[0], "plane": [x, y]}
            for (x, y), axis in zip(project.vanishing_points, project.vanishing_point_axes, strict=False)
        ],
    }
