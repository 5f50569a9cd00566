"""A camera solution (or an fSpy project) as Blender camera parameters, and back — no `bpy` here.

The solution is `sync_server.camera_solve.result.CameraSolution` as JSON: camera coordinates x right, y up,
looking down −z (a Blender camera's own axes), scene Z up, `camera_transform` the 4×4 camera-to-scene
matrix (rows), `relative_focal` fSpy's focal in pixels / half the long side, `principal_point` in fSpy's
image-plane units (centre 0, long side ±1, y up).

Blender facts these formulas rest on: with `sensor_fit = 'HORIZONTAL'` the sensor width spans the image
width whatever its aspect (the default 'AUTO' spans the longer side, which makes a portrait frame's focal
length 1.78× too long), so `lens = focal_px / width · sensor_width`; `shift_x` / `shift_y` are in units of
that fitted (horizontal) side, and a positive shift moves the frame right/up, i.e. the optical axis lands
left/below the frame's centre: `shift = −principal_point · (long side / 2) / width`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..shared import fspy

DEFAULT_SENSOR_WIDTH_MM = 36.0
DEFAULT_EYE_HEIGHT_M = 1.6
AXIS_COLOURS: dict[str, tuple[float, float, float, float]] = {
    "x": (0.95, 0.25, 0.25, 0.9),  # Blender's axis colours: X red, Y green, Z blue
    "y": (0.35, 0.85, 0.25, 0.9),
    "z": (0.3, 0.5, 1.0, 0.9),
}
HORIZON_COLOUR = (1.0, 0.85, 0.1, 1.0)


@dataclass(frozen=True)
class CameraParams:
    """What a solve sets on the Blender camera and the scene."""

    lens_mm: float
    sensor_width_mm: float
    shift_x: float
    shift_y: float
    resolution_x: int
    resolution_y: int
    matrix_world: list[list[float]]  # 4×4 rows, camera-to-scene
    sensor_fit: str = "HORIZONTAL"


def _half_long(width: int, height: int) -> float:
    return max(width, height) / 2.0


def lens_from_relative(relative_focal: float, width: int, height: int, sensor_width_mm: float) -> float:
    """Focal length (mm) for `sensor_width_mm` across the image width (sensor fit HORIZONTAL)."""
    return relative_focal * _half_long(width, height) / width * sensor_width_mm


def relative_from_lens(lens_mm: float, width: int, height: int, sensor_width_mm: float) -> float:
    return lens_mm / sensor_width_mm * width / _half_long(width, height)


def shift_from_principal(point: Sequence[float], width: int, height: int) -> tuple[float, float]:
    scale = _half_long(width, height) / width
    return -float(point[0]) * scale + 0.0, -float(point[1]) * scale + 0.0


def principal_from_shift(shift_x: float, shift_y: float, width: int, height: int) -> tuple[float, float]:
    scale = width / _half_long(width, height)
    return -shift_x * scale + 0.0, -shift_y * scale + 0.0


def _rows(matrix: Sequence[Sequence[float]]) -> list[list[float]]:
    return [[float(v) for v in row] for row in matrix]


def params_from_solution(
    solution: Mapping[str, Any],
    sensor_width_mm: float | None = None,
    camera_height_m: float | None = None,
) -> CameraParams:
    """Blender camera parameters for a solution (or `aipipe_shared.fspy.solution_fields` of a project).

    The lens is computed for `sensor_width_mm` (default: the width the solution was computed for), so the
    field of view is the solution's whatever sensor the camera has. `camera_height_m` replaces the height
    in the solution's transform (the artist's eye level)."""
    width, height = int(solution["image_width"]), int(solution["image_height"])
    if width <= 0 or height <= 0:
        raise ValueError(f"the solution's image size {width}×{height} is not a picture")
    sensor = float(sensor_width_mm or solution.get("sensor_width_mm") or DEFAULT_SENSOR_WIDTH_MM)
    relative = float(solution["relative_focal"])
    if not relative > 0:
        raise ValueError(f"the solution's relative focal length {relative} is not positive")
    matrix = _rows(solution["camera_transform"])
    if len(matrix) != 4 or any(len(row) != 4 for row in matrix):
        raise ValueError("the solution's camera_transform is not a 4×4 matrix")
    if camera_height_m is not None:
        matrix[2][3] = float(camera_height_m)
    shift = shift_from_principal(solution.get("principal_point") or (0.0, 0.0), width, height)
    return CameraParams(
        lens_mm=lens_from_relative(relative, width, height, sensor),
        sensor_width_mm=sensor,
        shift_x=shift[0],
        shift_y=shift[1],
        resolution_x=width,
        resolution_y=height,
        matrix_world=matrix,
    )


def effective_relative_focal(
    lens_mm: float, sensor_width_mm: float, sensor_fit: str, width: int, height: int, sensor_height_mm: float
) -> float:
    """fSpy's relative focal length of a Blender camera as it renders `width`×`height` with any sensor fit."""
    fit = sensor_fit
    if fit == "AUTO":
        fit = "HORIZONTAL" if width >= height else "VERTICAL_AUTO"
    if fit == "HORIZONTAL":
        focal_px = lens_mm / sensor_width_mm * width
    elif fit == "VERTICAL":
        focal_px = lens_mm / sensor_height_mm * height
    else:  # AUTO on a portrait frame: the sensor *width* spans the longer (vertical) side
        focal_px = lens_mm / sensor_width_mm * height
    return focal_px / _half_long(width, height)


def vanishing_point(direction: Sequence[float], relative_focal: float, principal: Sequence[float]) -> tuple:
    """Image-plane position of the vanishing point of a camera-space direction (None at infinity), and
    whether the direction had to be flipped to point in front of the camera."""
    x, y, z = (float(v) for v in direction)
    flipped = z > 0
    if flipped:
        x, y, z = -x, -y, -z
    if z > -1e-9:
        return None, flipped
    return (principal[0] + relative_focal * x / -z, principal[1] + relative_focal * y / -z), flipped


def fspy_fields_from_camera(
    lens_mm: float,
    sensor_width_mm: float,
    sensor_height_mm: float,
    sensor_fit: str,
    shift: tuple[float, float],
    matrix_world: Sequence[Sequence[float]],
    width: int,
    height: int,
) -> dict[str, Any]:
    """The fields of an fSpy project (`aipipe_shared.fspy.FspyProject` keyword arguments, less the image)
    for a Blender camera; shift is read back as the principal point for the fit the camera has."""
    relative = effective_relative_focal(lens_mm, sensor_width_mm, sensor_fit, width, height, sensor_height_mm)
    fit = sensor_fit if sensor_fit != "AUTO" else ("HORIZONTAL" if width >= height else "VERTICAL")
    fitted = width if fit == "HORIZONTAL" else height
    scale = fitted / _half_long(width, height)
    principal = (-shift[0] * scale + 0.0, -shift[1] * scale + 0.0)
    matrix = _rows(matrix_world)
    rotation = [row[:3] for row in matrix[:3]]
    points, axes = [], []
    for index, axis in enumerate("xy"):  # scene X and Y in camera coordinates: rows of camera-to-scene
        direction = [rotation[index][c] for c in range(3)]
        point, flipped = vanishing_point(direction, relative, principal)
        if point is None:
            continue
        points.append(point)
        axes.append(f"{axis}{'Negative' if flipped else 'Positive'}")
    return {
        "image_width": width,
        "image_height": height,
        "relative_focal": relative,
        "camera_transform": matrix,
        "principal_point": principal,
        "vanishing_points": points,
        "vanishing_point_axes": axes,
    }


# -- corrections sent with a re-solve -------------------------------------------------------------------


@dataclass
class Correction:
    """What the artist holds fixed for a re-solve: the body of POST /api/versions/{id}/camera-solve
    (sync_server.camera.schemas.CameraSolveRequest); what is not held is left out (the server's default)."""

    focal_mm: float | None = None
    horizon: list[list[float]] | None = None  # two pixel points on it (origin top-left, y down)
    preset_focal_mm: float | None = None
    sensor_width_mm: float | None = None
    eye_height_m: float = DEFAULT_EYE_HEIGHT_M
    vanishing_lines: list[dict[str, Any]] = field(default_factory=list)  # {"axis", "a", "b"} in pixels

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"eye_height_m": self.eye_height_m}
        if self.focal_mm:
            body["focal_mm"] = self.focal_mm
        if self.horizon:
            first, second = ([float(v) for v in point] for point in self.horizon)
            body["horizon"] = {"a": first, "b": second}
        if self.preset_focal_mm:
            body["preset_focal_mm"] = self.preset_focal_mm
        if self.sensor_width_mm:
            body["sensor_width_mm"] = self.sensor_width_mm
        if self.vanishing_lines:
            body["vanishing_lines"] = self.vanishing_lines
        return body


def horizon_pixels(solution: Mapping[str, Any]) -> list[list[float]]:
    """The solution's horizon as two pixel points (where it meets the left and right image edges)."""
    horizon = solution.get("horizon") or {}
    points = horizon.get("pixel_points") or []
    if len(points) == 2:
        return [[float(v) for v in p] for p in points]
    width, height = int(solution["image_width"]), int(solution["image_height"])
    return [[0.0, height / 2.0], [float(width), height / 2.0]]


# -- overlay geometry ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FrameCorners:
    """The camera frame in region pixels (what `view_frame` corners project to): y up in the region."""

    top_left: tuple[float, float]
    top_right: tuple[float, float]
    bottom_left: tuple[float, float]

    def to_region(self, x: float, y: float, width: int, height: int) -> tuple[float, float]:
        """Image pixel (origin top-left, y down) → region pixel."""
        u, v = x / width, y / height
        return (
            self.top_left[0] + u * (self.top_right[0] - self.top_left[0])
            + v * (self.bottom_left[0] - self.top_left[0]),
            self.top_left[1] + u * (self.top_right[1] - self.top_left[1])
            + v * (self.bottom_left[1] - self.top_left[1]),
        )  # fmt: skip


def image_corners(width: int, height: int) -> FrameCorners:
    """Identity-like corners: region = image pixels flipped to y up (for tests and fallbacks)."""
    return FrameCorners((0.0, float(height)), (float(width), float(height)), (0.0, 0.0))


def overlay_vertices(
    solution: Mapping[str, Any], corners: FrameCorners, horizon: Sequence[Sequence[float]] | None = None
) -> tuple[list[tuple[float, float, float]], list[tuple[float, float, float, float]]]:
    """LINES vertices (region pixels, z 0) and colours: each line used, coloured by its axis, then the
    horizon (the solution's, or the artist's two points) — two vertices per line."""
    width, height = int(solution["image_width"]), int(solution["image_height"])
    positions: list[tuple[float, float, float]] = []
    colours: list[tuple[float, float, float, float]] = []
    for line in solution.get("lines") or []:
        colour = AXIS_COLOURS.get(str(line.get("axis")), AXIS_COLOURS["x"])
        for end in (line["a"], line["b"]):
            x, y = corners.to_region(float(end[0]), float(end[1]), width, height)
            positions.append((x, y, 0.0))
            colours.append(colour)
    for end in horizon or horizon_pixels(solution):
        x, y = corners.to_region(float(end[0]), float(end[1]), width, height)
        positions.append((x, y, 0.0))
        colours.append(HORIZON_COLOUR)
    return positions, colours


def angles_deg(matrix_world: Sequence[Sequence[float]]) -> tuple[float, float, float]:
    """pitch (up +), roll (counter-clockwise +), yaw (about scene Z; 0 looks down +Y) of a camera matrix,
    the solver's convention (sync_server.camera_solve.orientation)."""
    m = _rows(matrix_world)
    right = [m[r][0] for r in range(3)]
    up = [m[r][1] for r in range(3)]
    view = [-m[r][2] for r in range(3)]
    pitch = math.degrees(math.asin(max(-1.0, min(1.0, view[2]))))
    roll = math.degrees(math.atan2(right[2], up[2]))
    yaw = math.degrees(math.atan2(-view[0], view[1]))
    return pitch, roll, yaw


# -- fSpy's own project state (what the fSpy application needs to open an exported file) ------------------
# Shared with the server's export (aipipe_shared.fspy): one implementation of fSpy's saved state.

plane_to_relative = fspy.plane_to_relative
relative_to_plane = fspy.relative_to_plane


def fspy_app_state(
    fields: Mapping[str, Any], lens_mm: float, sensor_width_mm: float, sensor_height_mm: float
) -> dict[str, Any]:
    """fSpy's saved state (settings, `cameraData`, control lines meeting at the camera's vanishing points)
    for a camera whose `fspy_fields_from_camera` are `fields` (see `aipipe_shared.fspy.app_state`)."""
    return fspy.app_state(fspy.FspyProject(**fields), lens_mm, sensor_width_mm, sensor_height_mm)
