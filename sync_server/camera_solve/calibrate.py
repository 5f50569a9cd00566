"""Joint refinement of focal length, rotation and radial distortion against the segments' directions.

Levenberg–Marquardt on robust (Cauchy) residuals: each segment assigned to a vanishing point contributes the
distance, in pixels, of its endpoints from the line through its midpoint and that vanishing point. The
assignment is redone between rounds. The focal length's standard deviation (from the normal equations) says
whether the picture determines it at all (one-point views do not).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .lines import Segments
from .residuals import rotation_from_vector, sin_angles, vanishing_points
from .vanishing import assign

CAUCHY_PX = 1.5
K1_PRIOR_SIGMA = 0.05
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
    pixels: float,
) -> np.ndarray:
    focal_value, rotation, k1 = _unpack(params, base_rotation, focal, with_k1)
    sines = sin_angles(segments, vanishing_points(focal_value, rotation), k1)
    chosen = sines[np.arange(len(labels)), labels]
    residual = chosen * segments.length * 0.5 * pixels
    if with_k1:
        residual = np.append(residual, k1 / K1_PRIOR_SIGMA)
    return residual


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
) -> Fit:
    """Refine a hypothesis; pixels is the pixels per image-plane unit (for the robust scale).

    Given labels (the vanishing point of each segment) and rounds=1, the assignment stays as given.
    """
    current_focal, current_rotation, current_k1 = focal, rotation, k1
    if labels is None:
        labels = assign(segments, current_focal, current_rotation, current_k1, threshold)
    log_sigma = float("inf")
    cost = float("inf")
    for round_index in range(rounds):
        used = labels >= 0
        if used.sum() < 6:
            break
        subset = segments.take(np.flatnonzero(used))
        sub_labels = labels[used]
        fixed = current_focal if fix_focal else None
        params = (
            ([] if fix_focal else [np.log(current_focal)])
            + [0.0, 0.0, 0.0]
            + ([current_k1] if with_k1 else [])
        )
        params = np.array(params, dtype=float)
        damping = 1e-3
        args = (subset, sub_labels, current_rotation, fixed, with_k1, pixels)
        residual = _residuals(params, *args)
        for _ in range(STEPS):
            weights = 1.0 / (1.0 + (residual / CAUCHY_PX) ** 2)
            if with_k1:
                weights[-1] = 1.0
            jacobian = np.empty((residual.size, params.size))
            for j in range(params.size):
                step = np.zeros_like(params)
                step[j] = 1e-6
                jacobian[:, j] = (_residuals(params + step, *args) - residual) / 1e-6
            normal = jacobian.T @ (weights[:, None] * jacobian)
            gradient = jacobian.T @ (weights * residual)
            before = float(np.sum(np.log1p((residual / CAUCHY_PX) ** 2)))
            improved = False
            for _attempt in range(6):
                delta = np.linalg.solve(normal + damping * np.diag(np.diag(normal) + 1e-9), -gradient)
                trial = params + delta
                trial_residual = _residuals(trial, *args)
                after = float(np.sum(np.log1p((trial_residual / CAUCHY_PX) ** 2)))
                if after < before:
                    params, residual, damping = trial, trial_residual, max(damping / 5.0, 1e-7)
                    improved = True
                    break
                damping *= 10.0
            if not improved or np.max(np.abs(delta)) < 1e-7:
                break
        current_focal, current_rotation, current_k1 = _unpack(params, current_rotation, fixed, with_k1)
        cost = float(np.sum(np.log1p((residual / CAUCHY_PX) ** 2)))
        if not fix_focal:
            weights = 1.0 / (1.0 + (residual / CAUCHY_PX) ** 2)
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
    return Fit(current_focal, current_rotation, current_k1, labels, cost, log_sigma, support)


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
        partial = refine(
            segments.take(keep),
            fit.focal,
            fit.rotation,
            pixels=pixels,
            with_k1=with_k1,
            k1=fit.k1,
            labels=labels,
            rounds=1,
        )
        estimates.append(np.log(partial.focal))
    if len(estimates) < 5:
        return float("inf")
    values = np.array(estimates)
    return float(np.sqrt((len(values) - 1) / len(values) * np.sum((values - values.mean()) ** 2)))
