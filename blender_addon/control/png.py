"""Grey PNG files from numpy arrays (no bpy, no Pillow): 8 or 16 bits, written atomically; 8-bit RGB ones
for the pose image.

Blender's own image saving goes through colour management (a view transform could bend a depth ramp), so
control images and masks are encoded here, byte for byte what the arrays hold.
"""

from __future__ import annotations

import os
import struct
import tempfile
import zlib

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"
COMPRESSION = 6


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def encode_grey(pixels: np.ndarray) -> bytes:
    """PNG bytes of a top-down H×W array: uint8 → 8-bit grey, uint16 → 16-bit grey."""
    if pixels.ndim != 2 or pixels.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"expected an H×W uint8 or uint16 array, got {pixels.dtype} {pixels.shape}")
    height, width = pixels.shape
    if not width or not height:
        raise ValueError("an image needs at least one pixel")
    bits = 8 if pixels.dtype == np.uint8 else 16
    return _encode(np.ascontiguousarray(pixels.astype(">u2") if bits == 16 else pixels), bits, 0)


def encode_rgb(pixels: np.ndarray) -> bytes:
    """PNG bytes of a top-down H×W×3 uint8 array: 8-bit RGB."""
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
        raise ValueError(f"expected an H×W×3 uint8 array, got {pixels.dtype} {pixels.shape}")
    if not pixels.shape[0] or not pixels.shape[1]:
        raise ValueError("an image needs at least one pixel")
    return _encode(np.ascontiguousarray(pixels), 8, 2)


def _encode(rows: np.ndarray, bits: int, colour_type: int) -> bytes:
    """`rows`: C-contiguous, top row first, samples already in PNG byte order; colour type 0 grey, 2 RGB."""
    height, width = rows.shape[:2]
    raw = np.zeros((height, rows.strides[0] + 1), np.uint8)  # filter byte 0 (None) before each row
    raw[:, 1:] = rows.view(np.uint8).reshape(height, -1)
    header = struct.pack(">IIBBBBB", width, height, bits, colour_type, 0, 0, 0)
    return (
        SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw.tobytes(), COMPRESSION))
        + _chunk(b"IEND", b"")
    )


def write_grey(path: str, pixels: np.ndarray) -> str:
    """Write `pixels` as a grey PNG at `path` (a temp file beside it, then renamed). Returns `path`."""
    return _write(path, encode_grey(pixels))


def write_rgb(path: str, pixels: np.ndarray) -> str:
    """Write H×W×3 uint8 `pixels` as an RGB PNG at `path`, atomically. Returns `path`."""
    return _write(path, encode_rgb(pixels))


def _write(path: str, data: bytes) -> str:
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    handle, partial = tempfile.mkstemp(prefix=".part-", suffix=".png", dir=folder)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    return path
