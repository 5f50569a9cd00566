"""Manhattan hypotheses from a few segments each, and their scores against all segments.

Two kinds of minimal samples: four segments (two per vanishing point) give a focal length and a rotation from
the orthogonality of two vanishing points; three segments with the focal length fixed (a grid of focal
lengths, or the preset) give a rotation even where a vanishing point lies at infinity (one-point views).
"""

from __future__ import annotations

import numpy as np

from .lines import Segments
from .residuals import sin_angles, vanishing_points

# The widest and narrowest lenses the search considers, as relative focal lengths (≈ 6 mm … 216 mm on 36 mm).
FOCAL_RANGE = (0.33, 12.0)
CHUNK = 256


def homogeneous_lines(segments: Segments) -> np.ndarray:
    ones = np.ones((len(segments), 1))
    lines = np.cross(np.hstack([segments.a, ones]), np.hstack([segments.b, ones]))
    return lines / np.linalg.norm(lines, axis=1, keepdims=True)


def _frames(first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotations (H, 3, 3): columns first, second (made orthogonal), their cross product; and a valid mask."""
    first = first / np.linalg.norm(first, axis=1, keepdims=True)
    second = second - np.sum(first * second, axis=1, keepdims=True) * first
    norm = np.linalg.norm(second, axis=1, keepdims=True)
    valid = norm[:, 0] > 1e-6
    second = second / np.maximum(norm, 1e-12)
    third = np.cross(first, second)
    return np.stack([first, second, third], axis=2), valid


def free_focal_hypotheses(
    segments: Segments, rng: np.random.Generator, count: int
) -> tuple[np.ndarray, np.ndarray]:
    """(focals (H,), rotations (H, 3, 3)) from pairs of vanishing points of two segments each."""
    lines = homogeneous_lines(segments)
    weights = segments.length / segments.length.sum()
    pick = rng.choice(len(segments), size=(count, 4), p=weights)
    first = np.cross(lines[pick[:, 0]], lines[pick[:, 1]])
    second = np.cross(lines[pick[:, 2]], lines[pick[:, 3]])
    with np.errstate(divide="ignore", invalid="ignore"):
        focal2 = -(first[:, 0] * second[:, 0] + first[:, 1] * second[:, 1]) / (first[:, 2] * second[:, 2])
    ok = np.isfinite(focal2) & (focal2 > FOCAL_RANGE[0] ** 2) & (focal2 < FOCAL_RANGE[1] ** 2)
    first, second, focal = first[ok], second[ok], np.sqrt(focal2[ok])
    d1 = np.stack([first[:, 0], first[:, 1], -focal * first[:, 2]], axis=1)
    d2 = np.stack([second[:, 0], second[:, 1], -focal * second[:, 2]], axis=1)
    rotations, valid = _frames(d1, d2)
    return focal[valid], rotations[valid]


def fixed_focal_hypotheses(
    segments: Segments, rng: np.random.Generator, focals: np.ndarray, count: int
) -> tuple[np.ndarray, np.ndarray]:
    """(focals, rotations) from one vanishing point (two segments) and a third segment; focal length given."""
    lines = homogeneous_lines(segments)
    weights = segments.length / segments.length.sum()
    pick = rng.choice(len(segments), size=(count, 3), p=weights)
    focal = focals[rng.integers(0, len(focals), size=count)]
    first = np.cross(lines[pick[:, 0]], lines[pick[:, 1]])
    d1 = np.stack([first[:, 0], first[:, 1], -focal * first[:, 2]], axis=1)
    third = lines[pick[:, 2]]
    # The plane through the camera centre and a segment has normal (l0, l1, −l2/f).
    normal = np.stack([third[:, 0], third[:, 1], -third[:, 2] / focal], axis=1)
    d2 = np.cross(d1, normal)
    ok = (np.linalg.norm(d1, axis=1) > 1e-9) & (np.linalg.norm(d2, axis=1) > 1e-9)
    rotations, valid = _frames(d1[ok], d2[ok])
    return focal[ok][valid], rotations[valid]


def soft_inlier_scores(
    segments: Segments, focals: np.ndarray, rotations: np.ndarray, threshold: float
) -> np.ndarray:
    """(H,) length-weighted soft count of segments within the threshold (a sine) of any vanishing point."""
    length = segments.length
    mid = 0.5 * (segments.a + segments.b)
    direction = segments.b - segments.a
    dnorm = np.linalg.norm(direction, axis=1)
    scores = np.empty(len(focals))
    for start in range(0, len(focals), CHUNK):
        f = focals[start : start + CHUNK]
        r = rotations[start : start + CHUNK]
        points = np.stack(
            [f[:, None] * r[:, 0, :], f[:, None] * r[:, 1, :], -r[:, 2, :]], axis=2
        )  # (h, 3, 3)
        tx = points[:, None, :, 0] - mid[None, :, None, 0] * points[:, None, :, 2]
        ty = points[:, None, :, 1] - mid[None, :, None, 1] * points[:, None, :, 2]
        cross = np.abs(direction[None, :, None, 0] * ty - direction[None, :, None, 1] * tx)
        sines = cross / np.maximum(dnorm[None, :, None] * np.hypot(tx, ty), 1e-12)
        best = sines.min(axis=2)
        scores[start : start + CHUNK] = (
            length[None, :] * np.clip(1.0 - (best / threshold) ** 2, 0.0, None)
        ).sum(axis=1)
    return scores


def assign(segments: Segments, focal: float, rotation: np.ndarray, k1: float, threshold: float) -> np.ndarray:
    """(N,) the vanishing point (0, 1, 2) each segment points at within threshold, −1 for none."""
    sines = sin_angles(segments, vanishing_points(focal, rotation), k1)
    label = sines.argmin(axis=1)
    label[sines.min(axis=1) > threshold] = -1
    return label
