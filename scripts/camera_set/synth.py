"""Quick pictures of axis-aligned boxes from a known camera, drawn with OpenCV (no Blender): for unit tests.

The camera sits at (0, 0, height) looking with the given pitch, roll and yaw (degrees, the solver's
conventions: yaw 0 looks down scene +Y); the focal length is relative (fSpy: pixels / half the long side).
"""

from __future__ import annotations

import cv2
import numpy as np

from .camera import camera_to_scene


def _faces(lo: np.ndarray, hi: np.ndarray) -> list[np.ndarray]:
    x0, y0, z0 = lo
    x1, y1, z1 = hi
    corners = [
        [(x0, y0, z0), (x1, y0, z0), (x1, y0, z1), (x0, y0, z1)],
        [(x0, y1, z0), (x1, y1, z0), (x1, y1, z1), (x0, y1, z1)],
        [(x0, y0, z0), (x0, y1, z0), (x0, y1, z1), (x0, y0, z1)],
        [(x1, y0, z0), (x1, y1, z0), (x1, y1, z1), (x1, y0, z1)],
        [(x0, y0, z1), (x1, y0, z1), (x1, y1, z1), (x0, y1, z1)],
    ]
    return [np.array(c, dtype=float) for c in corners]


def draw_boxes(
    *,
    width: int,
    height: int,
    focal: float,
    pitch: float,
    roll: float,
    yaw: float,
    seed: int,
    boxes: int = 40,
    camera_height: float = 1.6,
    manhattan: bool = True,
) -> np.ndarray:
    """A BGR picture of random boxes (or, with manhattan False, of random curves and blobs)."""
    rng = np.random.default_rng(seed)
    image = np.full((height, width, 3), (200, 190, 180), dtype=np.uint8)
    if not manhattan:
        for _ in range(60):
            centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
            axes = (int(rng.integers(10, 120)), int(rng.integers(10, 120)))
            colour = tuple(int(c) for c in rng.integers(0, 255, 3))
            cv2.ellipse(image, centre, axes, float(rng.uniform(0, 180)), 0, 360, colour, -1, cv2.LINE_AA)
        for _ in range(30):
            points = np.cumsum(rng.normal(0, 25, size=(12, 2)), axis=0) + rng.uniform(0, [width, height])
            cv2.polylines(image, [points.astype(np.int32)], False, (20, 20, 20), 3, cv2.LINE_AA)
        return image
    rotation = camera_to_scene(pitch, roll, yaw).T  # scene → camera
    eye = np.array([0.0, 0.0, camera_height])
    scale = max(width, height) / 2.0
    view = rotation[2] * -1.0
    polys: list[tuple[float, np.ndarray, tuple[int, int, int]]] = []
    forward = np.array([view[0], view[1], 0.0])
    forward /= max(np.linalg.norm(forward), 1e-9)
    side = np.array([forward[1], -forward[0], 0.0])
    for _ in range(boxes):
        distance = rng.uniform(6.0, 40.0)
        centre = forward * distance + side * distance * rng.uniform(-0.8, 0.8)
        size = rng.uniform([0.6, 0.6, 0.6], [3.0, 3.0, 5.0])
        lo = np.array(
            [centre[0] - size[0] / 2, centre[1] - size[1] / 2, rng.choice([0.0, rng.uniform(0, 3)])]
        )
        base = rng.integers(40, 230, 3)
        for index, face in enumerate(_faces(lo, lo + size)):
            # Each face in 3 × 3 cells of slightly different shades: windows, panels, tiles.
            u, v = face[1] - face[0], face[3] - face[0]
            for i in range(3):
                for j in range(3):
                    cell = np.array(
                        [
                            face[0] + u * (i + a) / 3 + v * (j + b) / 3
                            for a, b in ((0, 0), (1, 0), (1, 1), (0, 1))
                        ]
                    )
                    cam = (cell - eye) @ rotation.T
                    if np.any(cam[:, 2] > -0.2):
                        continue
                    xy = focal * cam[:, :2] / -cam[:, 2:3]
                    px = np.stack(
                        [xy[:, 0] * scale + (width - 1) / 2, -xy[:, 1] * scale + (height - 1) / 2], axis=1
                    )
                    shade = np.clip(base * (0.55 + 0.12 * index) + rng.integers(-25, 25, 3), 0, 255)
                    depth = float(np.linalg.norm(face.mean(axis=0) - eye))
                    polys.append((depth, px, tuple(int(c) for c in shade)))
    for _, px, colour in sorted(polys, key=lambda item: -item[0]):
        cv2.fillPoly(image, [np.round(px * 16).astype(np.int32)], colour, cv2.LINE_AA, shift=4)
    return image
