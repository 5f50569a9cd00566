"""Camera-solve request and response bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from ..schemas import Input, Output

Pixel = Annotated[list[Annotated[float, Field(ge=-1e6, le=1e6)]], Field(min_length=2, max_length=2)]


class GroundLength(Input):
    """Two points on the ground (pixels, origin top-left, y down) a known distance apart: the scale."""

    a: Pixel
    b: Pixel
    length_m: float = Field(gt=0, le=1e5)


class HorizonFix(Input):
    """The horizon as the artist placed it: two pixel points on it."""

    a: Pixel
    b: Pixel


class ArtistLine(Input):
    """A line the artist drew along a scene axis (pixels)."""

    axis: Literal["x", "y", "z"]
    a: Pixel
    b: Pixel


class CameraSolveRequest(Input):
    """What the artist holds fixed for a solve; every field is optional."""

    focal_mm: float | None = Field(
        default=None, gt=1, le=2000, description="Hold this focal length (mm on sensor_width_mm) fixed."
    )
    preset_focal_mm: float | None = Field(
        default=None,
        gt=1,
        le=2000,
        description="Focal length where the picture gives none (default: the shot's preset lens).",
    )
    sensor_width_mm: float | None = Field(
        default=None, gt=1, le=100, description="Sensor width in mm (default: the shot's preset's, else 36)."
    )
    eye_height_m: float | None = Field(
        default=None, gt=0, le=1e4, description="Camera height above the ground (default 1.6 m)."
    )
    ground_length: GroundLength | None = Field(
        default=None,
        description="A known length on the ground; sets the camera height (not with eye_height_m).",
    )
    horizon: HorizonFix | None = None
    vanishing_lines: Annotated[list[ArtistLine], Field(max_length=64)] = []


class CameraSolutionOut(Output):
    """The camera stored on a version."""

    version_id: uuid.UUID
    source: Literal["solve", "fspy"] = Field(description="Solved from the picture, or an imported .fspy.")
    solver_version: str
    image_sha256: str = Field(description="The picture this camera belongs to (the version's image file).")
    inputs: dict[str, Any] = Field(description="The corrections held fixed (the request), as given.")
    solution: dict[str, Any] = Field(description="The camera (sync_server.camera_solve.CameraSolution).")
    created_by: str
    created_at: datetime
    updated_at: datetime
