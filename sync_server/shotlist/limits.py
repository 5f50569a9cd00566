"""Limits checked on an uploaded workbook before any of it is parsed: the zip directory, the sizes its
members unpack to, the longest text and the number of cells. A hostile file is refused with the limit it
broke, reading at most the bytes the limits allow and never holding a whole member in memory."""

from __future__ import annotations

import re
import struct
import zipfile
import zlib
from dataclasses import dataclass
from io import BytesIO

from .settings import ShotlistSettings

EOCD = b"PK\x05\x06"  # end of the zip's central directory
EOCD_SIZE = 22
ZIP64_ENTRIES = 0xFFFF
MAX_ZIP_COMMENT = 0xFFFF
MAX_MEMBERS = 100_000  # an export of 20,000 shots with thumbnails has about 20,050
MEDIA_PREFIX = "xl/media/"  # pictures: counted, not scanned (the import never parses them)
SCAN_CHUNK = 1024 * 1024
# A cell in the sheet XML: <c r="A1" ...>, <c/>, or with a namespace prefix <x:c ...>.
CELL_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?c[\s/>]")
TAG_TAIL = 16  # bytes kept between chunks so a tag split by a chunk boundary is still counted once


class WorkbookTooLarge(ValueError):
    """The workbook breaks one of the limits; the message names it and the setting that sets it."""


@dataclass(frozen=True)
class WorkbookLimits:
    max_unzipped_bytes: int
    max_cell_bytes: int
    max_cells: int

    @classmethod
    def of(cls, settings: ShotlistSettings) -> WorkbookLimits:
        return cls(settings.max_unzipped_bytes, settings.max_cell_bytes, settings.max_cells)


def check_workbook(content: bytes, limits: WorkbookLimits) -> None:
    """Raise WorkbookTooLarge if the xlsx package unpacks to more than the limits allow."""
    _check_directory(content)
    try:
        with zipfile.ZipFile(BytesIO(content)) as package:
            members = package.infolist()
            total = sum(member.file_size for member in members)
            if total > limits.max_unzipped_bytes:
                raise WorkbookTooLarge(
                    f"The workbook unpacks to {total:,} bytes; at most {limits.max_unzipped_bytes:,} are "
                    "read (AIPIPE_SHOTLIST_MAX_UNZIPPED_BYTES)."
                )
            cells = 0
            for member in members:
                if not member.is_dir() and not member.filename.startswith(MEDIA_PREFIX):
                    cells = _scan(package, member, limits, cells)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, zlib.error):
        return  # not a readable zip package: the reader refuses it, naming the file


def _check_directory(content: bytes) -> None:
    """The number of members, read from the end record before zipfile builds one object per member."""
    tail_start = max(0, len(content) - EOCD_SIZE - MAX_ZIP_COMMENT)
    at = content.rfind(EOCD, tail_start)
    if at < 0 or at + EOCD_SIZE > len(content):
        return  # not a zip: the reader says so
    entries, directory_bytes = struct.unpack_from("<HI", content, at + 10)
    if entries == ZIP64_ENTRIES:
        entries = directory_bytes // 46  # each directory entry takes at least 46 bytes
    if entries > MAX_MEMBERS:
        raise WorkbookTooLarge(
            f"The workbook holds {entries:,} parts; a shot list workbook has far fewer (at most "
            f"{MAX_MEMBERS:,})."
        )


def _scan(package: zipfile.ZipFile, member: zipfile.ZipInfo, limits: WorkbookLimits, cells: int) -> int:
    """Stream one member: refuse a text run (a cell's text) over the limit; return the cells so far."""
    run = 0  # bytes since the last '<': a text node still open at the chunk boundary
    carry = b""
    with package.open(member) as stream:
        while chunk := stream.read(SCAN_CHUNK):
            # Linear in the chunk (a regex for "a run of N bytes without '<'" is quadratic on near misses).
            parts = chunk.split(b"<")
            run += len(parts[0])
            longest = max(run, max(map(len, parts[1:-1]), default=0))
            if len(parts) > 1:
                run = len(parts[-1])
                longest = max(longest, run)
            if longest > limits.max_cell_bytes:
                raise WorkbookTooLarge(
                    f"A cell in '{member.filename}' holds more than {limits.max_cell_bytes:,} bytes of text "
                    "(AIPIPE_SHOTLIST_MAX_CELL_BYTES)."
                )
            window = carry + chunk
            cells += len(CELL_TAG.findall(window)) - len(CELL_TAG.findall(carry))
            carry = window[-TAG_TAIL:]
            if cells > limits.max_cells:
                raise WorkbookTooLarge(
                    f"The workbook has more than {limits.max_cells:,} cells; at most that many are read "
                    "(AIPIPE_SHOTLIST_MAX_CELLS)."
                )
    return cells
