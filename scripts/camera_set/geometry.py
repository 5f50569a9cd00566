"""How well a camera's visible edges determine its focal length, from the geometry alone.

Two vanishing points give the focal length only where both are finite and measurably placed. A camera that
is pitched (the vertical vanishing point is finite) but square-on to a wall (one horizontal axis parallel to
the image plane) while the other horizontal axis shows no edges has, in the sense that matters, one finite
vanishing point: the picture leaves the focal length open, whatever solves it. This measures that from the
true camera and the edges it sees (not a solver's detections): the Cramér–Rao bound of ln(focal) for edges
whose ends are seen with NOMINAL_PX of noise, jointly with the camera's rotation. The set records it per
frame (truth `edges_log_focal_sigma`); it is information, not a rule that draws the camera again: a clean
render's edges are far better than NOMINAL_PX and an edge Blender sees may not show in the picture (a
sliver, equal colours), so no threshold on it separates the frames a picture leaves open from the others
(BENCHMARKS.md).

The rule that does draw cameras again is simpler and stated in the scene's terms (`located_axes`): a
general view shows MIN_EDGES edges along each of two scene axes that are each at least FINITE_DEG from the
image plane (vanishing points within cot(FINITE_DEG) ≈ 7.1 focal lengths of the centre). An axis nearly
parallel to the image plane has its vanishing point near infinity, where its lines fix a direction but not
the focal length; two such points (or one and one far off) leave the focal length open: a one-point view.

numpy only, so both Blender's Python and the test venv can use it.
"""

from __future__ import annotations

import numpy as np

# Nominal noise of an edge's seen ends (pixels, across the edge): a clean render's edges are better than this.
NOMINAL_PX = 1.0
# A general view: at least MIN_EDGES visible edges along each of two scene axes at least FINITE_DEG from the
# image plane. 8° is the set's older one-point rule's own bound on pitch (a camera pitched less than 8° was
# "level": its vertical vanishing point counted as at infinity); here it holds for every axis.
MIN_EDGES = 4
FINITE_DEG = 8.0


def axis_angles_deg(to_camera: np.ndarray) -> list[float]:
    """Per scene axis (x, y, z), its angle to the image plane in degrees (0: its vanishing point is at
    infinity; 90: it is the centre of the picture), for a scene → camera rotation (camera looks −z)."""
    z = np.abs(np.asarray(to_camera, dtype=float)[2, :])
    return [float(np.degrees(np.arcsin(min(1.0, v)))) for v in z]


def located_axes(
    edges_per_axis: list[int],
    to_camera: np.ndarray,
    min_edges: int = MIN_EDGES,
    finite_deg: float = FINITE_DEG,
) -> list[int]:
    """The scene axes whose vanishing point the visible edges locate well away from infinity: at least
    min_edges edges along the axis, and the axis at least finite_deg from the image plane. Fewer than two:
    the picture leaves the focal length open (a one-point view)."""
    angles = axis_angles_deg(to_camera)
    return [axis for axis in range(3) if edges_per_axis[axis] >= min_edges and angles[axis] >= finite_deg]


def _rotate(vector: np.ndarray) -> np.ndarray:
    angle = float(np.linalg.norm(vector))
    if angle < 1e-15:
        return np.eye(3)
    axis = vector / angle
    cross = np.array([[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]], [-axis[1], axis[0], 0.0]])
    return np.eye(3) + np.sin(angle) * cross + (1.0 - np.cos(angle)) * (cross @ cross)


def _sines(params: np.ndarray, directions: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(E,) signed sine between each edge and the line from its midpoint to its axis' vanishing point."""
    focal = np.exp(params[0])
    d = directions @ _rotate(params[1:4]).T
    points = np.stack([focal * d[:, 0], focal * d[:, 1], -d[:, 2]], axis=1)
    mid = 0.5 * (a + b)
    towards = points[:, :2] - mid * points[:, 2:3]
    along = b - a
    cross = along[:, 0] * towards[:, 1] - along[:, 1] * towards[:, 0]
    return cross / np.maximum(np.linalg.norm(along, axis=1) * np.linalg.norm(towards, axis=1), 1e-12)


def log_focal_sigma(
    a_px: np.ndarray,
    b_px: np.ndarray,
    axes: np.ndarray,
    to_camera: np.ndarray,
    focal_px: float,
    size: tuple[int, int],
) -> float:
    """The Cramér–Rao bound of ln(focal) from edges seen from a[i] to b[i] (pixels, y down) along scene
    axes[i] (0, 1, 2), for a camera whose scene → camera rotation is to_camera (camera x right, y up, looking
    −z), focal length and rotation unknown, NOMINAL_PX of noise at each end. inf where the edges leave the
    focal length open (fewer than four edges, or the information matrix is singular)."""
    if len(axes) < 4:
        return float("inf")
    width, height = size
    centre = np.array([(width - 1) / 2.0, (height - 1) / 2.0])
    a = (np.asarray(a_px, dtype=float) - centre) * np.array([1.0, -1.0])
    b = (np.asarray(b_px, dtype=float) - centre) * np.array([1.0, -1.0])
    directions = np.asarray(to_camera, dtype=float)[:, np.asarray(axes, dtype=int)].T  # (E, 3) camera coords
    length = np.linalg.norm(b - a, axis=1)
    angle_sigma = np.sqrt(2.0) * NOMINAL_PX / np.maximum(length, 1.0)
    params = np.array([np.log(focal_px), 0.0, 0.0, 0.0])
    jacobian = np.empty((len(axes), 4))
    for j in range(4):
        step = np.zeros(4)
        step[j] = 1e-6
        jacobian[:, j] = (
            _sines(params + step, directions, a, b) - _sines(params - step, directions, a, b)
        ) / 2e-6
    weighted = jacobian / angle_sigma[:, None]
    information = weighted.T @ weighted
    if np.linalg.cond(information) > 1e14:
        return float("inf")
    covariance = np.linalg.inv(information)
    return float(np.sqrt(max(covariance[0, 0], 0.0)))
