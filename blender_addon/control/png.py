"""Grey PNG files from numpy arrays (no bpy, no Pillow): 8 or 16 bits, written atomically.

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
    rows = np.ascontiguousarray(pixels.astype(">u2") if bits == 16 else pixels)
    raw = np.zeros((height, rows.strides[0] + 1), np.uint8)  # filter byte 0 (None) before each row
    raw[:, 1:] = rows.view(np.uint8).reshape(height, -1)
    header = struct.pack(">IIBBBBB", width, height, bits, 0, 0, 0, 0)  # colour type 0: grey
    return (
        SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw.tobytes(), COMPRESSION))
        + _chunk(b"IEND", b"")
    )


def write_grey(path: str, pixels: np.ndarray) -> str:
    """Write `pixels` as a grey PNG at `path` (a temp file beside it, then renamed). Returns `path`."""
    data = encode_grey(pixels)
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
