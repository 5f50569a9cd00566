"""Line segments of a picture (OpenCV's LSD), in the image-plane coordinates the solver works in.

LSD runs on the grey picture and on its two colour-difference channels (Lab a and b, contrast stretched):
edges between surfaces of equal brightness but different colour show only there. A colour segment that lies
along a grey one is the same edge and is dropped.

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
# A colour segment is the same edge as one already found when this share of it lies within DUPLICATE_PX of it.
DUPLICATE_PX = 3
DUPLICATE_SHARE = 0.5
# Colour channels whose values span less than this (of 255) hold no edges worth a detection pass.
MIN_CHANNEL_RANGE = 12
# Colour channels are smoothed first (JPEG stores colour at half resolution in 8 × 8 blocks, whose edges would
# come out as short horizontal and vertical segments) and only their longer segments are used.
COLOUR_BLUR_SIGMA = 1.5
COLOUR_MIN_LENGTH_FACTOR = 2.0


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


def _long_enough(raw: np.ndarray, frame: ImageFrame, factor: float = 1.0) -> np.ndarray:
    length = np.hypot(raw[:, 2] - raw[:, 0], raw[:, 3] - raw[:, 1])
    return raw[length >= factor * 2.0 * MIN_LENGTH_FRACTION * frame.scale]


def colour_channels(image: np.ndarray) -> list[np.ndarray]:
    """Lab a and b of a BGR(A) picture, contrast stretched to 0…255; none for a grey picture."""
    if image.ndim != 3 or image.shape[2] < 3 or image.dtype != np.uint8:
        return []
    lab = cv2.cvtColor(np.ascontiguousarray(image[:, :, :3]), cv2.COLOR_BGR2LAB)
    channels = []
    for index in (1, 2):
        channel = lab[:, :, index]
        low, high = np.percentile(channel[::4, ::4], [0.5, 99.5])
        if high - low < MIN_CHANNEL_RANGE:
            continue
        stretched = (channel.astype(np.float32) - low) * (255.0 / (high - low))
        stretched = cv2.GaussianBlur(stretched, (0, 0), COLOUR_BLUR_SIGMA)
        channels.append(np.clip(stretched, 0, 255).astype(np.uint8))
    return channels


def add_new_segments(found: np.ndarray, extra: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """found plus those of extra (pixel x1, y1, x2, y2 rows) that do not lie along a segment already there."""
    if extra.shape[0] == 0:
        return found
    mask = np.zeros(shape, dtype=np.uint8)
    for x1, y1, x2, y2 in np.round(found).astype(int):
        cv2.line(mask, (x1, y1), (x2, y2), 255, 2 * DUPLICATE_PX + 1)
    samples = np.linspace(0.0, 1.0, 12)
    xs = extra[:, None, 0] + (extra[:, None, 2] - extra[:, None, 0]) * samples[None, :]
    ys = extra[:, None, 1] + (extra[:, None, 3] - extra[:, None, 1]) * samples[None, :]
    xs = np.clip(np.round(xs).astype(int), 0, shape[1] - 1)
    ys = np.clip(np.round(ys).astype(int), 0, shape[0] - 1)
    covered = (mask[ys, xs] > 0).mean(axis=1)
    return np.vstack([found, extra[covered < DUPLICATE_SHARE]])


def picture_segments(image: np.ndarray) -> tuple[ImageFrame, Segments]:
    """The picture's usable segments (long enough, the longest MAX_SEGMENTS) in image-plane units."""
    gray = to_gray(image)
    frame = ImageFrame(width=int(gray.shape[1]), height=int(gray.shape[0]))
    raw = _long_enough(detect_segments(gray), frame)
    for channel in colour_channels(image):
        extra = _long_enough(detect_segments(channel), frame, COLOUR_MIN_LENGTH_FACTOR)
        raw = add_new_segments(raw, extra, gray.shape)
    a = frame.to_plane(raw[:, 0:2])
    b = frame.to_plane(raw[:, 2:4])
    segments = Segments(a, b)
    length = segments.length
    keep = np.flatnonzero(length >= 2.0 * MIN_LENGTH_FRACTION)
    keep = keep[np.argsort(-length[keep])][:MAX_SEGMENTS]
    return frame, segments.take(keep)
