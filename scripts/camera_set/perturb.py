"""What AI pictures do to straight lines, applied to a clean render (numpy + OpenCV, deterministic by seed).

Radial distortion k1 (image-plane units: centre 0, long side ±1; the observed point p shows the straight-line
image at p·(1 + k1·|p|²)), a smooth random warp of up to ±3 px, Gaussian blur, noise and JPEG compression.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np


def perturb(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """A perturbed copy of a BGR picture (already JPEG-decoded) and the parameters drawn."""
    height, width = image.shape[:2]
    k1 = float(rng.uniform(-0.03, 0.03))
    warp_px = 3.0
    blur_sigma = float(rng.uniform(0.4, 1.2))
    noise_sigma = float(rng.uniform(2.0, 6.0))
    jpeg_quality = int(rng.integers(60, 90))

    scale = max(width, height) / 2.0
    xs = (np.arange(width) - (width - 1) / 2.0) / scale
    ys = (np.arange(height) - (height - 1) / 2.0) / scale
    gx, gy = np.meshgrid(xs, ys)
    factor = 1.0 + k1 * (gx * gx + gy * gy)
    # A smooth field: random values on a coarse 5 × 4 grid, upsampled smoothly, scaled to ±warp_px at most.
    coarse = rng.uniform(-1.0, 1.0, size=(2, 4, 5)).astype(np.float32)
    field = [cv2.resize(c, (width, height), interpolation=cv2.INTER_CUBIC) for c in coarse]
    field = [f / max(float(np.abs(f).max()), 1e-6) * warp_px for f in field]
    map_x = (gx * factor * scale + (width - 1) / 2.0 + field[0]).astype(np.float32)
    map_y = (gy * factor * scale + (height - 1) / 2.0 + field[1]).astype(np.float32)
    warped = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    blurred = cv2.GaussianBlur(warped, (0, 0), blur_sigma)
    noisy = blurred.astype(np.float32) + rng.normal(0.0, noise_sigma, size=blurred.shape).astype(np.float32)
    noisy = np.clip(noisy, 0, 255).astype(np.uint8)
    ok, encoded = cv2.imencode(".jpg", noisy, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    result = cv2.imdecode(encoded, cv2.IMREAD_COLOR)
    params = {
        "k1": k1,
        "warp_px": warp_px,
        "blur_sigma": blur_sigma,
        "noise_sigma": noise_sigma,
        "jpeg_quality": jpeg_quality,
    }
    return result, params
