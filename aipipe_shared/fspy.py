"""fSpy project files (`.fspy`), read and written with the standard library only (the add-on carries this).

Layout: 16-byte header — ASCII `fspy`, then uint32 little-endian: format version (1), JSON length, image
length — then the JSON state (UTF-8) and the image bytes. The state's `cameraParameters` hold the principal
point and vanishing points in fSpy's image-plane units (centre 0, long side ±1, y up), the camera transform
(4×4 camera-to-world, `{"rows": [...]}`), the fields of view (radians), the relative focal length (focal in
pixels / half the long side) and the image size.

Our camera solution (sync_server.camera_solve.result.CameraSolution, as a dict) maps onto these: see
`project_from_solution` and `solution_fields`. The fSpy application itself does not open a file from its
`cameraParameters` alone: it reads its saved settings and control points (`calibrationSettingsBase` with
`cameraData`, the vanishing-line pairs, ...) — `app_state` writes those for a camera, so the server's export
and the add-on's export both open in fSpy.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Mapping, Sequence
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


def _half_long(width: int, height: int) -> float:
    return max(width, height) / 2.0


def plane_to_relative(point: Sequence[float], width: int, height: int) -> dict[str, float]:
    """fSpy image-plane coordinates (centre 0, long side ±1, y up) → its control points' relative image
    coordinates (0…1 across width and height, y down)."""
    half = _half_long(width, height)
    return {"x": (width / 2.0 + point[0] * half) / width, "y": (height / 2.0 - point[1] * half) / height}


def relative_to_plane(point: Mapping[str, float], width: int, height: int) -> tuple[float, float]:
    half = _half_long(width, height)
    return ((point["x"] * width - width / 2.0) / half, (height / 2.0 - point["y"] * height) / half)


def plane_vanishing_point(
    direction: Sequence[float], relative_focal: float, principal: Sequence[float]
) -> tuple[float, float] | None:
    """Image-plane position of the vanishing point of a camera-space direction (camera looks down −z;
    either sense of the direction), None when it is at infinity."""
    x, y, z = (float(v) for v in direction)
    if z > 0:
        x, y, z = -x, -y, -z
    if z > -1e-9:
        return None
    return (principal[0] + relative_focal * x / -z, principal[1] + relative_focal * y / -z)


def _segments_towards(
    target: Sequence[float], anchors: Sequence[Sequence[float]], length: float
) -> list[list[tuple[float, float]]]:
    """Two image-plane segments, one from each anchor, pointing at `target` (they meet there)."""
    segments = []
    for anchor in anchors:
        dx, dy = target[0] - anchor[0], target[1] - anchor[1]
        norm = math.hypot(dx, dy) or 1.0
        step = min(length, norm / 2.0)
        segments.append(
            [(anchor[0], anchor[1]), (anchor[0] + dx / norm * step, anchor[1] + dy / norm * step)]
        )
    return segments


def app_state(
    project: FspyProject, lens_mm: float, sensor_width_mm: float, sensor_height_mm: float
) -> dict[str, Any]:
    """The rest of fSpy's saved state (fSpy 1.0.x `SavedState`: global settings, calibration settings with
    `cameraData`, control points) for the project's camera: two-vanishing-point mode with line pairs that
    meet at its first two vanishing points (and the third axis's), so fSpy recomputes the same orientation
    and field of view when it opens the file. Empty when fewer than two vanishing points are finite or the
    third is at infinity (fSpy cannot show such a camera in two-point mode)."""
    width, height = project.image_width, project.image_height
    relative, principal = project.relative_focal, project.principal_point
    points = list(project.vanishing_points[:2])
    axes = list(project.vanishing_point_axes[:2])
    remaining = [a for a in "xyz" if a not in {axis[:1] for axis in axes}]
    if len(points) != 2 or len(axes) != 2 or len(remaining) != 1:
        return {}
    rotation = project.camera_transform
    third = plane_vanishing_point(
        [rotation["xyz".index(remaining[0])][c] for c in range(3)], relative, principal
    )
    if third is None:
        return {}
    aspect_x, aspect_y = width / (2.0 * _half_long(width, height)), height / (2.0 * _half_long(width, height))

    def spot(u: float, v: float) -> tuple[float, float]:
        return (u * 2 * aspect_x - aspect_x, aspect_y - v * 2 * aspect_y)

    length = 0.25 * min(aspect_x, aspect_y)
    pairs = [
        _segments_towards(points[0], [spot(0.3, 0.3), spot(0.25, 0.75)], length),
        _segments_towards(points[1], [spot(0.7, 0.3), spot(0.75, 0.75)], length),
        _segments_towards(third, [spot(0.4, 0.5), spot(0.6, 0.55)], length),
    ]

    def control(pair: list[list[tuple[float, float]]]) -> dict[str, Any]:
        return {"lineSegments": [[plane_to_relative(p, width, height) for p in seg] for seg in pair]}

    # the horizon: the line through the two horizontal vanishing points
    (x0, y0), (x1, y1) = points
    slope = (y1 - y0) / (x1 - x0) if abs(x1 - x0) > 1e-12 else 0.0
    horizon = [(x, y0 + slope * (x - x0)) for x in (-0.6 * aspect_x, 0.6 * aspect_x)]
    origin = plane_to_relative(spot(0.5, 0.8), width, height)
    manual = abs(principal[0]) > 1e-9 or abs(principal[1]) > 1e-9
    return {
        "globalSettings": {
            "calibrationMode": "TwoVanishingPoints",
            "imageOpacity": 0.2,
            "overlay3DGuide": "None",
        },
        "calibrationSettingsBase": {
            "referenceDistanceAxis": None,
            "referenceDistance": 4,
            "referenceDistanceUnit": project.reference_distance_unit,
            "cameraData": {
                "presetId": None,
                "presetData": None,
                "customSensorWidth": sensor_width_mm,
                "customSensorHeight": sensor_height_mm,
            },
            "firstVanishingPointAxis": axes[0],
            "secondVanishingPointAxis": axes[1],
        },
        "calibrationSettings1VP": {"principalPointMode": "Default", "absoluteFocalLength": lens_mm},
        "calibrationSettings2VP": {
            "principalPointMode": "Manual" if manual else "Default",
            "quadModeEnabled": False,
        },
        "controlPointsStateBase": {
            "principalPoint": plane_to_relative(principal, width, height),
            "origin": origin,
            "referenceDistanceAnchor": origin,
            "referenceDistanceHandleOffsets": [0.1, 0.05],
            "firstVanishingPoint": control(pairs[0]),
        },
        "controlPointsState1VP": {"horizon": [plane_to_relative(p, width, height) for p in horizon]},
        "controlPointsState2VP": {
            "secondVanishingPoint": control(pairs[1]),
            "thirdVanishingPoint": control(pairs[2]),
        },
        "resultDisplaySettings": {
            "orientationFormat": "AxisAngleDegrees",
            "principalPointFormat": "Absolute",
            "fieldOfViewFormat": "Degrees",
            "displayAbsoluteFocalLength": False,
        },
    }


def project_from_solution(solution: Mapping[str, Any], image: bytes = b"") -> FspyProject:
    """An fSpy project from a camera solution (CameraSolution.model_dump()) and the picture's bytes."""
    points: list[tuple[float, float]] = []
    axes: list[str] = []
    for point in solution.get("vanishing_points") or []:
        if point.get("plane") is not None:
            points.append((float(point["plane"][0]), float(point["plane"][1])))
            axes.append(f"{point['axis']}Positive")
    principal = solution.get("principal_point") or [0.0, 0.0]
    project = FspyProject(
        image_width=int(solution["image_width"]),
        image_height=int(solution["image_height"]),
        relative_focal=float(solution["relative_focal"]),
        camera_transform=[[float(v) for v in row] for row in solution["camera_transform"]],
        principal_point=(float(principal[0]), float(principal[1])),
        vanishing_points=points,
        vanishing_point_axes=axes,
        image=image,
    )
    if solution.get("focal_mm") and solution.get("sensor_width_mm"):
        # the solution's focal is for sensor_width_mm across the image width: a sensor of the image's shape
        sensor = float(solution["sensor_width_mm"])
        project.extra_state = app_state(
            project, float(solution["focal_mm"]), sensor, sensor * project.image_height / project.image_width
        )
    return project


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
