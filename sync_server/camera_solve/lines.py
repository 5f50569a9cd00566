"""Line segments of a picture (OpenCV's LSD), in the image-plane coordinates the solver works in.

Image-plane coordinates follow fSpy: origin at the image centre, x right, y up, the long side spanning ±1.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Segments shorter than this fraction of the long side carry more noise than direction.
MIN_LENGTH_FRACTION = 0.02
# The longest segments are enough; more only costs time.
MAX_SEGMENTS = 900


@dataclass(frozen=True)
class ImageFrame:
    """Pixel size of a picture and the scale between pixels and image-plane units."""

    width: int
    height: int

    @property
    def scale(self) -> float:
        """Pixels per image-plane unit (half the long side)."""
        return max(self.width, self.height) / 2.0

    def to_plane(self, pixels: np.ndarray) -> np.ndarray:
        """(…, 2) pixel coordinates (pixel centres at integers) → image-plane coordinates."""
        centre = np.array([(self.width - 1) / 2.0, (self.height - 1) / 2.0])
        plane = (pixels - centre) / self.scale
        plane[..., 1] *= -1.0
        return plane

    def to_pixels(self, plane: np.ndarray) -> np.ndarray:
        """(…, 2) image-plane coordinates → pixel coordinates."""
        pixels = np.array(plane, dtype=float, copy=True)
        pixels[..., 1] *= -1.0
        return pixels * self.scale + np.array([(self.width - 1) / 2.0, (self.height - 1) / 2.0])


@dataclass(frozen=True)
class Segments:
    """Segments as endpoint arrays in image-plane units: a and b are (N, 2); length is (N,)."""

    a: np.ndarray
    b: np.ndarray

    @property
    def length(self) -> np.ndarray:
        return np.linalg.norm(self.b - self.a, axis=1)

    def __len__(self) -> int:
        return int(self.a.shape[0])

    def take(self, index: np.ndarray) -> Segments:
        return Segments(self.a[index], self.b[index])


def to_gray(image: np.ndarray) -> np.ndarray:
    """An 8-bit single-channel copy of a BGR, BGRA or gray picture."""
    if image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    elif image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    if image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    return image


def detect_segments(gray: np.ndarray) -> np.ndarray:
    """LSD segments as an (N, 4) pixel array x1, y1, x2, y2 (OpenCV 4.x returns (N, 1, 4), 5.x (N, 4))."""
    detector = cv2.createLineSegmentDetector(cv2.LSD_REFINE_STD)
    found = detector.detect(gray)[0]
    if found is None:
        return np.zeros((0, 4))
    return np.asarray(found, dtype=float).reshape(-1, 4)


def picture_segments(image: np.ndarray) -> tuple[ImageFrame, Segments]:
    """The picture's usable segments (long enough, the longest MAX_SEGMENTS) in image-plane units."""
    gray = to_gray(image)
    frame = ImageFrame(width=int(gray.shape[1]), height=int(gray.shape[0]))
    raw = detect_segments(gray)
    a = frame.to_plane(raw[:, 0:2])
    b = frame.to_plane(raw[:, 2:4])
    segments = Segments(a, b)
    length = segments.length
    keep = np.flatnonzero(length >= 2.0 * MIN_LENGTH_FRACTION)
    keep = keep[np.argsort(-length[keep])][:MAX_SEGMENTS]
    return frame, segments.take(keep)
