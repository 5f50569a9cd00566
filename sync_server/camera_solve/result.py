"""The camera solution as a pydantic model: what the server stores on the version and the add-on applies."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

SOLVER_VERSION = "camera-solve 1.7"

Case = Literal["three_point", "two_point", "one_point", "none"]
Refusal = Literal["one_point_view", "too_few_lines", "not_manhattan", "focal_out_of_range"]
Axis = Literal["x", "y", "z"]

REFUSAL_TEXT: dict[str, str] = {
    "one_point_view": "The picture does not pin down the focal length (a one-point or near-frontal view, or "
    "too few lines towards a second vanishing point): the focal length is the preset's.",
    "too_few_lines": "Too few straight lines were found to locate vanishing points.",
    "not_manhattan": "The lines do not run along three perpendicular directions (not a Manhattan scene).",
    "focal_out_of_range": "The solved focal length is outside the range of real lenses.",
}


class VanishingPoint(BaseModel):
    axis: Axis
    direction: list[float] = Field(
        description="The scene axis in camera coordinates (x right, y up, looking −z)."
    )
    plane: list[float] | None = Field(
        description="Image-plane position (fSpy units: centre 0, long side ±1, y up); null at infinity."
    )
    pixel: list[float] | None = Field(
        description="Pixel position (origin top-left, y down); null at infinity."
    )
    lines: int = Field(description="Segments that point at it.")


class LineUsed(BaseModel):
    axis: Axis
    a: list[float] = Field(description="Pixel coordinates of one end.")
    b: list[float] = Field(description="Pixel coordinates of the other end.")


class Horizon(BaseModel):
    plane_line: list[float] = Field(description="a, b, c with a·x + b·y + c = 0 in image-plane units.")
    pixel_points: list[list[float]] = Field(
        description="Where the horizon meets the left and right image edges."
    )
    angle_deg: float


class CameraSolution(BaseModel):
    solver_version: str = SOLVER_VERSION
    image_width: int
    image_height: int
    accepted: bool = Field(
        description="Nothing refused: orientation and focal length from the picture (or focal length given)."
    )
    case: Case
    refusals: list[Refusal] = Field(default_factory=list)
    refusal_text: str = ""
    focal_source: Literal["picture", "preset", "given"] = Field(
        description="picture: solved; preset: the fallback; given: held fixed by the caller (a correction)."
    )
    orientation_source: Literal["picture", "default"]
    relative_focal: float = Field(
        description="fSpy's relative focal length: focal in pixels / (long side / 2)."
    )
    focal_px: float
    focal_mm: float = Field(
        description="For sensor_width_mm across the image width (Blender sensor_fit HORIZONTAL)."
    )
    sensor_width_mm: float
    horizontal_fov_deg: float
    principal_point: list[float] = Field(default_factory=lambda: [0.0, 0.0])
    k1: float = Field(
        description="Radial distortion in image-plane units (observed = straight·(1 + k1·r²)⁻¹)."
    )
    pitch_deg: float
    roll_deg: float
    yaw_deg: float
    camera_to_scene: list[list[float]] = Field(description="3×3 rotation, rows; scene Z up.")
    camera_height_m: float
    camera_transform: list[list[float]] = Field(
        description="4×4 camera-to-scene matrix, rows (fSpy's cameraTransform)."
    )
    horizon: Horizon
    vanishing_points: list[VanishingPoint]
    lines: list[LineUsed]
    confidence: float = Field(description="0…1: share of line length explained × focal-length certainty.")
    support: float = Field(description="Length-weighted share of segments that point at a vanishing point.")
    log_focal_sigma: float | None = Field(
        description="Standard deviation of ln(focal); null when not estimated."
    )
    picture_focal_mm: float | None = Field(
        default=None,
        description="The focal length the lines suggest, also where refused (for the artist to judge).",
    )
    segments: int
    seconds: float
