"""The 2.5D set's math, without bpy: camera rays, the depth image's scale from the ground, the displaced grid.

Coordinates: pixels are measured from the picture's top-left corner, x right, y down (continuous: pixel
(i, j) covers [i, i+1) × [j, j+1)). Camera space is a Blender camera's own: x right, y up, looking down −z.
Depth is planar (the distance along the camera's axis, as Blender's depth pass and depth estimators give it),
so the point of pixel (x, y) at depth z is z · ray(x, y) with ray = ((x − cx)/f, −(y − cy)/f, −1).

Blender's camera model (sensor fit, shift) as `BKE_camera_params_compute_viewplane` has it: the fitted side
S (the width for HORIZONTAL, the height for VERTICAL, the longer side for AUTO) spans the sensor size
(`sensor_width`, or `sensor_height` for VERTICAL), so f = lens / sensor · S pixels; a shift is in units of S
and moves the frame, so the optical axis sits at cx = W/2 − shift_x·S, cy = H/2 + shift_y·S.

The depth image is relative (Lotus, Depth Anything: an unknown scale and offset), near = white. Its scale is
fixed by the ground: the scene's ground is the plane Z = `ground_z` (0, where the camera solve puts it, with
the camera at its eye height above it), so every pixel below the horizon whose ray meets the ground within
reach has a known ground depth. The bottom band of the picture is taken to show mostly ground; a trimmed
least-squares fit of the image's values there against those depths gives the scale and offset (robust to
the props and characters standing in the band). Two encodings:
- `depth` (Lotus after the template's invert): depth is affine in the value, z = p·v + q;
- `inverse` (MiDaS, Depth Anything, the add-on's own control images): inverse depth is affine, 1/z = p·v + q.
Where the ground cannot be seen (the camera looks up, or the band is all wall) the fit is refused and the
scale is assumed: the nearest value at the camera height, the farthest at `FAR_FACTOR` times it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

ENCODINGS = ("depth", "inverse")
FAR_FACTOR = 50.0  # the assumed scale: the farthest value this many camera heights away
MAX_DEPTH_FACTOR = 200.0  # nothing (sky included) farther than this many camera heights
GROUND_BAND = 0.3  # the bottom part of the picture that is taken to show ground
GROUND_REACH = 40.0  # ground samples at most this many camera heights away
MIN_SAMPLES = 16
KEEP = 0.6  # the trimmed fit keeps this share of the samples that fit best


@dataclass(frozen=True)
class Intrinsics:
    """A pinhole camera in pixels (top-left origin, y down)."""

    width: int
    height: int
    focal_px: float
    cx: float
    cy: float


def intrinsics(
    lens_mm: float,
    sensor_width_mm: float,
    sensor_height_mm: float,
    sensor_fit: str,
    shift_x: float,
    shift_y: float,
    width: int,
    height: int,
) -> Intrinsics:
    """Blender's perspective camera as a pinhole camera of `width`×`height` pixels (square pixels)."""
    if width < 1 or height < 1 or lens_mm <= 0:
        raise ValueError(f"a camera needs a positive lens and size, got {lens_mm} mm, {width}×{height}")
    if sensor_fit == "VERTICAL":
        side, sensor = float(height), sensor_height_mm
    elif sensor_fit == "HORIZONTAL":
        side, sensor = float(width), sensor_width_mm
    else:  # AUTO: the sensor width across the longer side
        side, sensor = float(max(width, height)), sensor_width_mm
    return Intrinsics(
        width, height, lens_mm / sensor * side, width / 2.0 - shift_x * side, height / 2.0 + shift_y * side
    )


def rays(intr: Intrinsics, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Camera-space rays (…×3) through pixel positions x, y, scaled to z = −1 (planar depth 1)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    return np.stack([(x - intr.cx) / intr.focal_px, -(y - intr.cy) / intr.focal_px, -np.ones_like(x)], -1)


def project(intr: Intrinsics, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Camera-space points (…×3) → pixel x, y and planar depth (the inverse of `rays`)."""
    points = np.asarray(points, np.float64)
    depth = -points[..., 2]
    return (
        intr.cx + intr.focal_px * points[..., 0] / depth,
        intr.cy - intr.focal_px * points[..., 1] / depth,
        depth,
    )


def ground_depth(
    intr: Intrinsics,
    rotation: Sequence[Sequence[float]],
    camera_z: float,
    x: np.ndarray,
    y: np.ndarray,
    ground_z: float = 0.0,
) -> np.ndarray:
    """Planar depth at which each pixel's ray meets the ground plane Z = `ground_z` (inf: never, it looks
    up). `rotation` is the camera-to-scene 3×3 (rows), `camera_z` the camera's height in the scene."""
    height = camera_z - ground_z
    if height <= 0:
        raise ValueError(f"the camera is {height:g} above the ground: it must be above it")
    down = rays(intr, x, y) @ np.asarray(rotation, np.float64).T  # scene directions, z step per unit depth
    out = np.full(down.shape[:-1], np.inf)
    meets = down[..., 2] < -1e-9
    out[meets] = height / -down[..., 2][meets]
    return out


@dataclass(frozen=True)
class DepthScale:
    """How the image's values (0..1, near = 1) become planar depth: model(z) = p·v + q."""

    encoding: str  # "depth" (z = p·v + q) or "inverse" (1/z = p·v + q)
    p: float
    q: float
    max_depth: float
    method: str  # "ground" (fitted on the ground) or "assumed" (no ground seen)
    samples: int = 0
    residual: float = 0.0  # the fit's RMS depth error on the kept samples, relative to their depth

    def depth(self, values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, np.float64)
        model = self.p * values + self.q
        if self.encoding == "depth":
            out = model
        else:
            out = np.full(model.shape, self.max_depth)
            ok = model > 1.0 / self.max_depth
            out[ok] = 1.0 / model[ok]
        return np.clip(out, 1e-3, self.max_depth)


def assumed_scale(encoding: str, camera_height: float) -> DepthScale:
    near, far = camera_height, FAR_FACTOR * camera_height
    top = MAX_DEPTH_FACTOR * camera_height
    if encoding == "depth":
        return DepthScale(encoding, near - far, far, top, "assumed")
    return DepthScale(encoding, 1.0 / near - 1.0 / far, 1.0 / far, top, "assumed")


def fit_scale(values: np.ndarray, ground: np.ndarray, encoding: str, camera_height: float) -> DepthScale:
    """The scale and offset that put the image's values on the ground depths (trimmed least squares);
    `assumed_scale` when there are too few samples or the fit runs the wrong way (far = white)."""
    if encoding not in ENCODINGS:
        raise ValueError(f"depth encoding is one of {', '.join(ENCODINGS)}, got {encoding!r}")
    values, ground = np.ravel(values).astype(np.float64), np.ravel(ground).astype(np.float64)
    usable = np.isfinite(ground) & (ground > 0) & np.isfinite(values)
    values, ground = values[usable], ground[usable]
    if values.size < MIN_SAMPLES or np.ptp(values) < 1e-3:
        return assumed_scale(encoding, camera_height)
    target = ground if encoding == "depth" else 1.0 / ground
    keep = np.ones(values.size, bool)
    p = q = 0.0
    for _ in range(5):
        design = np.stack([values[keep], np.ones(int(keep.sum()))], -1)
        (p, q), *_ = np.linalg.lstsq(design, target[keep], rcond=None)
        error = np.abs(p * values + q - target) / np.abs(target)
        keep = error <= np.quantile(error, KEEP)
        if keep.sum() < MIN_SAMPLES:
            break
    if (encoding == "depth" and p >= 0) or (encoding == "inverse" and p <= 0):
        return assumed_scale(encoding, camera_height)
    scale = DepthScale(
        encoding, float(p), float(q), MAX_DEPTH_FACTOR * camera_height, "ground", int(keep.sum())
    )
    fitted = scale.depth(values[keep])
    residual = float(np.sqrt(np.mean(((fitted - ground[keep]) / ground[keep]) ** 2)))
    return DepthScale(scale.encoding, scale.p, scale.q, scale.max_depth, "ground", int(keep.sum()), residual)


def sample(image: np.ndarray, x: np.ndarray, y: np.ndarray, width: int, height: int) -> np.ndarray:
    """Bilinear value of `image` (h×w, top row first) at frame positions x, y of a `width`×`height` frame
    (the image may have another size with the same framing)."""
    h, w = image.shape[:2]
    u = np.clip(np.asarray(x, np.float64) * w / width - 0.5, 0, w - 1)
    v = np.clip(np.asarray(y, np.float64) * h / height - 0.5, 0, h - 1)
    u0, v0 = np.floor(u).astype(int), np.floor(v).astype(int)
    u1, v1 = np.minimum(u0 + 1, w - 1), np.minimum(v0 + 1, h - 1)
    fu, fv = u - u0, v - v0
    top = image[v0, u0] * (1 - fu) + image[v0, u1] * fu
    bottom = image[v1, u0] * (1 - fu) + image[v1, u1] * fu
    return top * (1 - fv) + bottom * fv


def ground_scale(
    intr: Intrinsics,
    image: np.ndarray,
    rotation: Sequence[Sequence[float]],
    camera_z: float,
    encoding: str,
    ground_z: float = 0.0,
    step: int = 4,
) -> DepthScale:
    """`fit_scale` on the ground seen in the bottom band of the picture (every `step` pixels)."""
    height = camera_z - ground_z
    xs = np.arange(step / 2, intr.width, step, dtype=np.float64)
    ys = np.arange(intr.height - step / 2, intr.height * (1 - GROUND_BAND), -step, dtype=np.float64)
    gx, gy = np.meshgrid(xs, ys)
    ground = ground_depth(intr, rotation, camera_z, gx, gy, ground_z)
    ground[ground > GROUND_REACH * height] = np.inf
    return fit_scale(sample(image, gx, gy, intr.width, intr.height), ground, encoding, height)


@dataclass
class SetGeometry:
    vertices: np.ndarray  # N×3, camera space
    faces: np.ndarray  # M×4 vertex indices, counter-clockwise seen from the camera
    uvs: np.ndarray  # N×2, the frame's (0, 0) bottom-left to (1, 1) top-right
    pixels: np.ndarray  # N×2, the frame position (x, y) each vertex was made for
    depths: np.ndarray  # N, planar depth


def grid_size(intr: Intrinsics, columns: int) -> tuple[int, int]:
    """Vertices across and down for `columns` quads across (rows follow the frame's aspect)."""
    columns = max(1, int(columns))
    rows = max(1, round(columns * intr.height / intr.width))
    return columns + 1, rows + 1


def build_geometry(
    intr: Intrinsics, image: np.ndarray, scale: DepthScale, columns: int = 160, tear: float = 0.0
) -> SetGeometry:
    """A grid over the frame, each vertex pushed along its camera ray to the image's depth there. `tear` > 1
    leaves out quads whose far corner is more than `tear` times as deep as the near one (the set splits at
    silhouettes instead of stretching a skin from a foreground object to the wall behind it)."""
    across, down = grid_size(intr, columns)
    xs = np.linspace(0.0, intr.width, across)
    ys = np.linspace(0.0, intr.height, down)
    gx, gy = np.meshgrid(xs, ys)  # row 0: the top of the frame
    depth = scale.depth(sample(image, gx, gy, intr.width, intr.height))
    points = rays(intr, gx, gy) * depth[..., None]
    index = np.arange(across * down).reshape(down, across)
    # Counter-clockwise seen from the camera (x right, y up): bottom-left, bottom-right, top-right, top-left.
    quads = np.stack([index[1:, :-1], index[1:, 1:], index[:-1, 1:], index[:-1, :-1]], -1).reshape(-1, 4)
    if tear > 1.0:
        corners = depth.ravel()[quads]
        quads = quads[corners.max(axis=1) <= tear * corners.min(axis=1)]
    uvs = np.stack([gx / intr.width, 1.0 - gy / intr.height], -1).reshape(-1, 2)
    return SetGeometry(
        points.reshape(-1, 3), quads, uvs, np.stack([gx, gy], -1).reshape(-1, 2), depth.ravel()
    )


def horizon_row(intr: Intrinsics, rotation: Sequence[Sequence[float]], x: float) -> float:
    """The picture row of the horizon at column `x` (where rays turn level); nan when it is vertical."""
    r = np.asarray(rotation, np.float64)
    # A ray (a, b, -1) is level when r[2] · (a, b, -1) = 0.
    a = (x - intr.cx) / intr.focal_px
    if abs(r[2, 1]) < 1e-12:
        return math.nan
    b = (r[2, 2] - r[2, 0] * a) / r[2, 1]
    return intr.cy - b * intr.focal_px
