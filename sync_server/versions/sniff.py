"""What a file is, from its first bytes: the extension must agree with the content.

A small signature table for the formats a version may hold (the `filetype` package would cover more, but
these are the ones that matter here, and the agreement rules — mp4 and mov are one family, text formats
are checked as text — are ours either way). Executables are refused whatever their extension.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from dataclasses import dataclass

SNIFF_BYTES = 8192  # enough for every signature below and a fair look at text

Check = Callable[[bytes], bool]


def _starts(*prefixes: bytes) -> Check:
    return lambda head: head.startswith(prefixes)


def _riff(form: bytes) -> Check:
    return lambda head: head[:4] in (b"RIFF", b"RF64", b"BW64") and head[8:12] == form


# ISO base media (mp4, mov, m4v): an `ftyp` box, or an old QuickTime file that starts with another atom.
_QUICKTIME_ATOMS = (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")


def _iso_media(head: bytes) -> bool:
    return len(head) >= 8 and head[4:8] in _QUICKTIME_ATOMS


# What the bytes are, most specific first. The name is used in messages ("the content is a ...").
SIGNATURES: tuple[tuple[str, Check], ...] = (
    ("PNG image", _starts(b"\x89PNG\r\n\x1a\n")),
    ("JPEG image", _starts(b"\xff\xd8\xff")),
    ("OpenEXR image", _starts(b"\x76\x2f\x31\x01")),
    ("TIFF image", _starts(b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")),
    ("WebP image", _riff(b"WEBP")),
    ("GIF image", _starts(b"GIF87a", b"GIF89a")),
    ("BMP image", _starts(b"BM")),
    ("WAV audio", _riff(b"WAVE")),
    ("AVI video", _riff(b"AVI ")),
    ("Matroska/WebM video", _starts(b"\x1a\x45\xdf\xa3")),
    ("MP4/QuickTime video", _iso_media),
    ("Blender file", _starts(b"BLENDER")),
    ("FBX binary", _starts(b"Kaydara FBX Binary")),
    ("Alembic (Ogawa)", _starts(b"Ogawa")),
    ("HDF5 file", _starts(b"\x89HDF\r\n\x1a\n")),
    ("USD crate", _starts(b"PXR-USDC")),
    ("ZIP archive", _starts(b"PK\x03\x04", b"PK\x05\x06")),
    ("gzip data", _starts(b"\x1f\x8b")),
    ("Zstandard data", _starts(b"\x28\xb5\x2f\xfd")),
    ("PDF document", _starts(b"%PDF-")),
    ("Windows executable", _starts(b"MZ")),
    ("Linux executable (ELF)", _starts(b"\x7fELF")),
    (
        "macOS executable (Mach-O)",
        _starts(b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe"),
    ),
    ("script with a #! line", _starts(b"#!")),
)
EXECUTABLES = frozenset(
    {"Windows executable", "Linux executable (ELF)", "macOS executable (Mach-O)", "script with a #! line"}
)
TEXT = "text"


def is_text(head: bytes) -> bool:
    """UTF-8 (a character cut at the end of `head` allowed) without NUL bytes, or text with a UTF-16 BOM."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return True
    if b"\x00" in head:
        return False
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return True


def identify(head: bytes) -> str:
    """A short description of what `head` is: a name from SIGNATURES, "text", or "unknown binary data"."""
    for name, check in SIGNATURES:
        if check(head):
            return name
    return TEXT if is_text(head) else "unknown binary data"


def _text_starting(*starts: str) -> Check:
    def check(head: bytes) -> bool:
        if not is_text(head):
            return False
        text = head.decode("utf-8", errors="ignore").lstrip("\ufeff \t\r\n")
        return not starts or text.startswith(starts)

    return check


@dataclass(frozen=True)
class Kind:
    """What an extension promises: the MIME type recorded, a description, and the bytes it accepts."""

    mime: str
    description: str
    accepts: Check
    empty_ok: bool = False


def _any_of(*names: str) -> Check:
    checks = [check for name, check in SIGNATURES if name in names]
    return lambda head: any(check(head) for check in checks)


_PLAIN_TEXT = _text_starting()
KINDS: dict[str, Kind] = {
    "png": Kind("image/png", "a PNG image", _any_of("PNG image")),
    "jpg": Kind("image/jpeg", "a JPEG image", _any_of("JPEG image")),
    "jpeg": Kind("image/jpeg", "a JPEG image", _any_of("JPEG image")),
    "exr": Kind("image/x-exr", "an OpenEXR image", _any_of("OpenEXR image")),
    "tif": Kind("image/tiff", "a TIFF image", _any_of("TIFF image")),
    "tiff": Kind("image/tiff", "a TIFF image", _any_of("TIFF image")),
    "webp": Kind("image/webp", "a WebP image", _any_of("WebP image")),
    # mp4 and mov are one container family; a QuickTime file named .mp4 plays everywhere we care about.
    "mp4": Kind("video/mp4", "an MP4 video", _iso_media),
    "mov": Kind("video/quicktime", "a QuickTime video", _iso_media),
    "mkv": Kind("video/x-matroska", "a Matroska video", _any_of("Matroska/WebM video")),
    "webm": Kind("video/webm", "a WebM video", _any_of("Matroska/WebM video")),
    "wav": Kind("audio/wav", "a WAV file", _any_of("WAV audio")),
    # Blender writes plain, gzip (before 3.0) or zstd (3.0+) compressed .blend files.
    "blend": Kind(
        "application/x-blender", "a Blender file", _any_of("Blender file", "gzip data", "Zstandard data")
    ),
    "fbx": Kind(
        "application/octet-stream",
        "an FBX file",
        lambda head: _any_of("FBX binary")(head) or _PLAIN_TEXT(head),
    ),
    "abc": Kind("application/octet-stream", "an Alembic file", _any_of("Alembic (Ogawa)", "HDF5 file")),
    "usd": Kind(
        "model/vnd.usd",
        "a USD file",
        lambda head: _any_of("USD crate")(head) or _text_starting("#usda")(head),
    ),
    "usda": Kind("model/vnd.usd", "a USD text file", _text_starting("#usda")),
    "usdc": Kind("model/vnd.usd", "a USD crate file", _any_of("USD crate")),
    "usdz": Kind("model/vnd.usdz+zip", "a USDZ package", _any_of("ZIP archive")),
    "json": Kind("application/json", "JSON text", _text_starting("{", "["), empty_ok=False),
    "otio": Kind("application/json", "an OpenTimelineIO file", _text_starting("{"), empty_ok=False),
    "txt": Kind("text/plain", "text", _PLAIN_TEXT, empty_ok=True),
    "edl": Kind("text/plain", "an EDL", _PLAIN_TEXT, empty_ok=True),
    "xml": Kind("application/xml", "XML", _text_starting("<")),
}
UNKNOWN_MIME = "application/octet-stream"


class Mismatch(ValueError):
    """The bytes do not agree with the extension; the message says what they look like."""


def check(ext: str, head: bytes, size: int) -> str:
    """The MIME type to record for a file named `*.ext` that starts with `head`; `Mismatch` if they disagree.

    Extensions without an entry in KINDS (an admin may allow more) are accepted unless they are executables.
    """
    kind = KINDS.get(ext)
    found = identify(head) if head else "empty"
    if found in EXECUTABLES:
        expected = kind.description if kind else f"a .{ext} file"
        raise Mismatch(f"the content is a {found}, not {expected} as the extension says")
    if kind is None:
        return UNKNOWN_MIME
    if size == 0:
        if kind.empty_ok:
            return kind.mime
        raise Mismatch(f"the file is empty, not {kind.description}")
    if not kind.accepts(head):
        article = "" if found in (TEXT, "unknown binary data") else "a "
        raise Mismatch(f"the content is {article}{found}, not {kind.description} as the extension says")
    return kind.mime
