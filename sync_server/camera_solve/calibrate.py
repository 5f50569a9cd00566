"""Joint refinement of focal length, rotation and radial distortion against the segments' directions.

Levenberg–Marquardt on robust (Cauchy) residuals: each segment assigned to a vanishing point contributes the
sine of the angle between it and the line from its midpoint to that vanishing point, in units of its own
expected error: endpoint noise (ENDPOINT_PX over half its length, so long segments count more) plus an angular
floor that the picture itself sets (warps and distortion bend long lines too, so their direction is never
better than that floor; estimated from the inliers each round, ANGLE_FLOOR at least). The assignment is redone
between rounds. The focal length's standard deviation (from the normal equations) says whether the picture
determines it at all (one-point views do not).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .lines import Segments
from .residuals import rotation_from_vector, sin_angles, undistort, vanishing_points
from .vanishing import assign

CAUCHY = 2.5  # in units of each segment's expected error
ENDPOINT_PX = 0.6
ANGLE_FLOOR = 2e-4  # radians: about 0.01°, what a clean render's long edges still scatter
MEDIAN_CHI2_1 = 0.4549  # the median of a chi-square with one degree of freedom
K1_PRIOR_SIGMA = 0.05
# Vanishing points with at most this many lines get a per-line jackknife of the focal length.
WEAK_POINT_LINES = 8
# Segments whose ends lie this close to another's straight line are pieces of the same line.
SAME_LINE_PX = 3.0
ROUNDS = 4
STEPS = 8


@dataclass(frozen=True)
class Fit:
    focal: float
    rotation: np.ndarray
    k1: float
    labels: np.ndarray
    cost: float
    log_focal_sigma: float  # inf where the focal length was held fixed or is undetermined
    support: float  # length-weighted fraction of segments explained
    angle_sigma: float = ANGLE_FLOOR  # the angular error floor the inliers showed (radians)


def _unpack(
    params: np.ndarray, base_rotation: np.ndarray, focal: float | None, with_k1: bool
) -> tuple[float, np.ndarray, float]:
    index = 0
    if focal is None:
        focal_value = float(np.exp(np.clip(params[0], -4.0, 5.0)))  # keeps a diverging step finite
        index = 1
    else:
        focal_value = focal
    rotation = rotation_from_vector(params[index : index + 3]) @ base_rotation
    k1 = float(params[index + 3]) if with_k1 else 0.0
    return focal_value, rotation, k1


def _residuals(
    params: np.ndarray,
    segments: Segments,
    labels: np.ndarray,
    base_rotation: np.ndarray,
    focal: float | None,
    with_k1: bool,
    error: np.ndarray,
) -> np.ndarray:
    focal_value, rotation, k1 = _unpack(params, base_rotation, focal, with_k1)
    sines = sin_angles(segments, vanishing_points(focal_value, rotation), k1)
    chosen = sines[np.arange(len(labels)), labels]
    residual = chosen / error
    if with_k1:
        residual = np.append(residual, k1 / K1_PRIOR_SIGMA)
    return residual


def expected_error(segments: Segments, pixels: float, angle_sigma: float) -> np.ndarray:
    """(N,) each segment's expected |sin| error: endpoint noise over half its length, and the floor."""
    endpoint = ENDPOINT_PX / np.maximum(segments.length * 0.5 * pixels, 1.0)
    return np.sqrt(endpoint**2 + angle_sigma**2)


def angle_floor(segments: Segments, sines: np.ndarray, pixels: float) -> float:
    """The angular error floor the inliers show beyond their endpoint noise (a robust estimate, radians)."""
    endpoint = ENDPOINT_PX / np.maximum(segments.length * 0.5 * pixels, 1.0)
    excess = sines**2 - endpoint**2
    if excess.size < 6:
        return ANGLE_FLOOR
    return float(np.sqrt(max(float(np.median(excess)) / MEDIAN_CHI2_1, ANGLE_FLOOR**2)))


def refine(
    segments: Segments,
    focal: float,
    rotation: np.ndarray,
    *,
    pixels: float,
    fix_focal: bool = False,
    with_k1: bool = True,
    k1: float = 0.0,
    threshold: float = np.sin(np.radians(2.0)),
    labels: np.ndarray | None = None,
    rounds: int = ROUNDS,
    angle_sigma: float | None = None,
) -> Fit:
    """Refine a hypothesis; pixels is the pixels per image-plane unit (for the endpoint noise).

    Given labels (the vanishing point of each segment) and rounds=1, the assignment stays as given; given
    angle_sigma, the angular floor stays as given instead of being estimated from the inliers.
    """
    current_focal, current_rotation, current_k1 = focal, rotation, k1
    if labels is None:
        labels = assign(segments, current_focal, current_rotation, current_k1, threshold)
    log_sigma = float("inf")
    cost = float("inf")
    floor = ANGLE_FLOOR if angle_sigma is None else angle_sigma
    for round_index in range(rounds):
        used = labels >= 0
        if used.sum() < 6:
            break
        subset = segments.take(np.flatnonzero(used))
        sub_labels = labels[used]
        if angle_sigma is None:
            sines = sin_angles(subset, vanishing_points(current_focal, current_rotation), current_k1)
            floor = angle_floor(subset, sines[np.arange(len(sub_labels)), sub_labels], pixels)
        error = expected_error(subset, pixels, floor)
        fixed = current_focal if fix_focal else None
        params = (
            ([] if fix_focal else [np.log(current_focal)])
            + [0.0, 0.0, 0.0]
            + ([current_k1] if with_k1 else [])
        )
        params = np.array(params, dtype=float)
        damping = 1e-3
        args = (subset, sub_labels, current_rotation, fixed, with_k1, error)
        residual = _residuals(params, *args)
        for _ in range(STEPS):
            weights = 1.0 / (1.0 + (residual / CAUCHY) ** 2)
            if with_k1:
                weights[-1] = 1.0
            jacobian = np.empty((residual.size, params.size))
            for j in range(params.size):
                step = np.zeros_like(params)
                step[j] = 1e-6
                jacobian[:, j] = (_residuals(params + step, *args) - residual) / 1e-6
            normal = jacobian.T @ (weights[:, None] * jacobian)
            gradient = jacobian.T @ (weights * residual)
            before = float(np.sum(np.log1p((residual / CAUCHY) ** 2)))
            improved = False
            for _attempt in range(6):
                delta = np.linalg.solve(normal + damping * np.diag(np.diag(normal) + 1e-9), -gradient)
                trial = params + delta
                trial_residual = _residuals(trial, *args)
                after = float(np.sum(np.log1p((trial_residual / CAUCHY) ** 2)))
                if after < before:
                    params, residual, damping = trial, trial_residual, max(damping / 5.0, 1e-7)
                    improved = True
                    break
                damping *= 10.0
            if not improved or np.max(np.abs(delta)) < 1e-7:
                break
        current_focal, current_rotation, current_k1 = _unpack(params, current_rotation, fixed, with_k1)
        cost = float(np.sum(np.log1p((residual / CAUCHY) ** 2)))
        if not fix_focal:
            weights = 1.0 / (1.0 + (residual / CAUCHY) ** 2)
            dof = max(residual.size - params.size, 1)
            variance = float(np.sum(weights * residual**2) / np.sum(weights) * residual.size / dof)
            try:
                covariance = np.linalg.inv(normal) * variance
                log_sigma = float(np.sqrt(max(covariance[0, 0], 0.0)))
            except np.linalg.LinAlgError:
                log_sigma = float("inf")
        if round_index == rounds - 1:
            break
        new_labels = assign(segments, current_focal, current_rotation, current_k1, threshold)
        if round_index > 0 and np.array_equal(new_labels, labels):
            labels = new_labels
            break
        labels = new_labels
    length = segments.length
    support = float(length[labels >= 0].sum() / max(length.sum(), 1e-12))
    return Fit(current_focal, current_rotation, current_k1, labels, cost, log_sigma, support, floor)


def regional_log_focal_sigma(segments: Segments, fit: Fit, *, pixels: float, with_k1: bool) -> float:
    """Jackknife over image regions: the spread of ln(focal) when each ninth of the picture is left out.

    Warps and local distortions bend the lines of one region together, so their errors are correlated and the
    normal equations understate the focal length's uncertainty; leaving out a region at a time does not.
    """
    mid = 0.5 * (segments.a + segments.b)
    x_edges = np.quantile(mid[:, 0], [1 / 3, 2 / 3])
    y_edges = np.quantile(mid[:, 1], [1 / 3, 2 / 3])
    cell = np.searchsorted(x_edges, mid[:, 0]) * 3 + np.searchsorted(y_edges, mid[:, 1])
    estimates = []
    for index in range(9):
        keep = np.flatnonzero((cell != index) & (fit.labels >= 0))
        labels = fit.labels[keep]
        if sum(1 for j in range(3) if np.sum(labels == j) >= 3) < 2:
            continue  # this region holds a vanishing point's only lines: no estimate without it
        estimates.append(_log_focal_of(segments, fit, keep, pixels=pixels, with_k1=with_k1))
    if len(estimates) < 5:
        return float("inf")
    return _jackknife_sigma(estimates)


def weak_point_log_focal_sigma(
    segments: Segments, fit: Fit, *, pixels: float, with_k1: bool, few: int = WEAK_POINT_LINES
) -> float:
    """Jackknife over the lines of each vanishing point that has only a few: the spread of ln(focal) when each
    of them is left out in turn (0 where every vanishing point has more than `few` lines).

    The regional jackknife cannot leave out a region that holds a vanishing point's only lines, and that is
    where a handful of lines bent by a warp or distortion can fake a vanishing point and a focal length.
    """
    worst = 0.0
    used = np.flatnonzero(fit.labels >= 0)
    for point in range(3):
        members = np.flatnonzero(fit.labels == point)
        if members.size == 0 or members.size > few:
            continue
        estimates = []
        for left_out in members:
            keep = used[used != left_out]
            labels = fit.labels[keep]
            if sum(1 for j in range(3) if np.sum(labels == j) >= 2) < 2:
                return float("inf")  # without this line there is no second vanishing point at all
            estimates.append(_log_focal_of(segments, fit, keep, pixels=pixels, with_k1=with_k1))
        worst = max(worst, _jackknife_sigma(estimates))
    return worst


def _log_focal_of(segments: Segments, fit: Fit, keep: np.ndarray, *, pixels: float, with_k1: bool) -> float:
    """ln(focal) of the fit refined once on the kept lines only (one jackknife estimate)."""
    partial = refine(
        segments.take(keep),
        fit.focal,
        fit.rotation,
        pixels=pixels,
        with_k1=with_k1,
        k1=fit.k1,
        labels=fit.labels[keep],
        rounds=1,
        angle_sigma=fit.angle_sigma,
    )
    return float(np.log(partial.focal))


def _jackknife_sigma(estimates: list[float]) -> float:
    """The jackknife standard error of the estimates (each made with one part left out)."""
    values = np.array(estimates)
    return float(np.sqrt((len(values) - 1) / len(values) * np.sum((values - values.mean()) ** 2)))


def distinct_lines(segments: Segments, members: np.ndarray, k1: float, *, pixels: float) -> np.ndarray:
    """(len(members),) a line id per segment: segments along the same straight line (pieces of one edge, the
    window tops of one storey) share an id. A vanishing point is only as well placed as its distinct lines.
    """
    ids = np.full(members.size, -1)
    if members.size == 0:
        return ids
    a = undistort(segments.a[members], k1)
    b = undistort(segments.b[members], k1)
    ones = np.ones((members.size, 1))
    lines = np.cross(np.hstack([a, ones]), np.hstack([b, ones]))
    lines /= np.maximum(np.hypot(lines[:, 0], lines[:, 1]), 1e-12)[:, None]
    tolerance = SAME_LINE_PX / pixels
    order = np.argsort(-np.linalg.norm(b - a, axis=1))
    next_id = 0
    for index in order:
        if ids[index] >= 0:
            continue
        line = lines[index]
        near_a = np.abs(a @ line[:2] + line[2]) <= tolerance
        near_b = np.abs(b @ line[:2] + line[2]) <= tolerance
        ids[(ids < 0) & near_a & near_b] = next_id
        ids[index] = next_id
        next_id += 1
    return ids
