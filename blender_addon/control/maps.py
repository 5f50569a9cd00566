"""Control images from render passes, in numpy (no bpy): depth, lines, and masks from painted pixels.

Arrays are top-down (row 0 is the top of the picture), as image files store them; `render.py` flips
Blender's bottom-up pixels before calling these.

- Depth, the convention of the depth ControlNets (MiDaS, Depth Anything): relative inverse depth, near =
  white, far = black; the nearest surface is the full value, the farthest is 0, the background (nothing hit)
  is 0.
- Lines, the convention of the canny ControlNets: white lines on black. A line is drawn where the surface
  jumps in depth (silhouettes, the outline against the background) or folds (creases between faces, seen as
  a change of the surface normal), so it follows the geometry and not the lighting.
- Masks: white = repaint.
"""

from __future__ import annotations

import numpy as np

BACKGROUND_DEPTH = 1e9
"""Blender's depth pass reads 1e10 where nothing was hit; anything this far is background."""

DEPTH_JUMP = 0.05
"""A line where the second difference of inverse depth is this large a part of the inverse depth: zero on any
plane (inverse depth is affine across a plane in the picture), large across a silhouette."""

CREASE = 0.12
"""A line where the surface-normal colour (Workbench's normal matcap) changes this much between neighbours:
about 15-20 degrees of fold."""


def coverage(depth: np.ndarray) -> np.ndarray:
    """True where the camera ray hit something."""
    return np.isfinite(depth) & (depth > 0) & (depth < BACKGROUND_DEPTH)


def depth_map(depth: np.ndarray, bits: int = 8) -> np.ndarray:
    """Depth in camera units (H×W float) → a grey image: near = white, far and background = black.

    Inverse depth is scaled so the nearest surface is the full value and the farthest surface 0, the
    normalisation the depth estimators' outputs get (min-max of relative inverse depth)."""
    if bits not in (8, 16):
        raise ValueError(f"bits must be 8 or 16, got {bits}")
    top = 255 if bits == 8 else 65535
    hit = coverage(depth)
    out = np.zeros(depth.shape, np.uint8 if bits == 8 else np.uint16)
    if not hit.any():
        return out
    inverse = np.zeros(depth.shape, np.float64)
    inverse[hit] = 1.0 / depth[hit]
    near, far = inverse[hit].max(), inverse[hit].min()
    span = near - far
    scaled = (inverse[hit] - far) / span if span > 0 else np.ones(int(hit.sum()))
    out[hit] = np.rint(scaled * top).astype(out.dtype)
    return out


def _shifted(values: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Views of `values` one step before, at, and one step after each inner pixel along `axis`."""
    if axis == 0:
        return values[:-2], values[1:-1], values[2:]
    return values[:, :-2], values[:, 1:-1], values[:, 2:]


def line_map(depth: np.ndarray, normals: np.ndarray | None = None) -> np.ndarray:
    """White (255) lines on black (0), H×W uint8, from the depth pass (H×W) and optionally a normal-colour
    image (H×W×3, any smooth encoding of the surface normal; background pixels are ignored)."""
    hit = coverage(depth)
    inverse = np.zeros(depth.shape, np.float32)
    np.divide(1.0, depth, out=inverse, where=hit)  # the background counts as infinitely far: 0
    lines = np.zeros(depth.shape, bool)
    for axis in (0, 1):
        before, here, after = _shifted(inverse, axis)
        jump = np.abs(before + after - 2 * here)
        nearest = np.maximum(np.maximum(before, here), after)
        _, inner, _ = _shifted(lines, axis)
        inner |= jump > DEPTH_JUMP * nearest  # relative to the nearer surface around the pixel
    if normals is not None:
        channels = [np.ascontiguousarray(normals[..., i], np.float32) for i in range(3)]
        for axis in (0, 1):
            shape = list(hit.shape)
            shape[axis] -= 1
            step = np.zeros(shape, np.float32)
            for channel in channels:
                np.maximum(step, np.abs(np.diff(channel, axis=axis)), out=step)
            first, second = (slice(None, -1), slice(1, None))
            if axis == 0:
                fold = (step > CREASE) & hit[first] & hit[second]
                lines[first] |= fold
            else:
                fold = (step > CREASE) & hit[:, first] & hit[:, second]
                lines[:, first] |= fold
    out = np.zeros(depth.shape, np.uint8)
    out[lines] = 255
    return out


DIM = 0.3
"""A mask made from a take reads brightness up to this as black: the take under the paint is dimmed to
`SHOWN` (below it, with room for 8-bit rounding), so the artist sees where to paint and any brightness above
`DIM` is the white paint."""
SHOWN = 0.25


def mask_map(rgba: np.ndarray, floor: float = 0.0) -> np.ndarray:
    """Mask pixels (H×W×4 or H×W×3 floats 0..1) → H×W uint8, white = repaint.

    Brightness at or under `floor` is black and full white is 255, stretched between: a mask made from a
    take (`floor=DIM`, the take dimmed to `SHOWN` under white strokes) keeps the soft edge of each stroke and
    drops the picture; a plain black-and-white mask (`floor=0`) is read as it is. Transparent pixels are
    black."""
    if not 0.0 <= floor < 1.0:
        raise ValueError(f"floor must be in [0, 1), got {floor}")
    grey = rgba[..., :3].astype(np.float32).mean(axis=-1)
    if rgba.shape[-1] == 4:
        grey = grey * rgba[..., 3]
    painted = np.clip((grey - floor) / (1.0 - floor), 0.0, 1.0)
    return np.rint(painted * 255).astype(np.uint8)


def dim(rgba: np.ndarray) -> np.ndarray:
    """A take as its mask starts: the picture scaled into 0..`SHOWN`, opaque, nothing painted yet."""
    out = np.empty(rgba.shape, np.float32)
    out[..., :3] = np.clip(rgba[..., :3], 0.0, 1.0) * SHOWN
    if rgba.shape[-1] == 4:
        out[..., 3] = 1.0
    return out
