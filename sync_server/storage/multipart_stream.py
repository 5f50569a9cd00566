"""A multipart/form-data body parsed as it arrives (python-multipart's push parser), the part that every
streaming upload shares: headers and Content-Disposition, text fields collected up to a size limit, file
parts written to an open file while hashed, fsynced once at their end, and a body checked complete.

A subclass says what a part may be called (`check_field`, `check_name`), where a file goes and what it
checks on the way (`begin_file`, `file_data`, `end_file`), and what a field's bytes become (`end_field`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import BinaryIO, Generic, Protocol, TypeVar

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from ..errors import PayloadTooLarge, Unprocessable

FILES_FIELD = "files"
DRAIN_BYTES = 64 * 1024 * 1024  # after an early refusal, read this much more so the client sees the answer


class ReceivedPart(Protocol):
    size: int
    sha256: str


FileT = TypeVar("FileT", bound=ReceivedPart)


class MultipartStream(Generic[FileT]):
    """Push parser for one upload: `write(chunk)` / `write_all(chunks)` as bytes arrive (in a worker
    thread), then `finish()`; `close()` closes a file left open by an interrupted body."""

    max_field_bytes: int = 64 * 1024

    def __init__(self, boundary: bytes) -> None:
        self.fields: dict[str, str] = {}
        self.files: list[FileT] = []
        self.current: FileT | None = None
        self._handle: BinaryIO | None = None
        self._hash = hashlib.sha256()
        self._field_name: str | None = None
        self._field_data = bytearray()
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._disposition = b""
        self._complete = False
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._part_begin,
                "on_header_field": lambda d, s, e: self._header_name.extend(d[s:e]),
                "on_header_value": lambda d, s, e: self._header_value.extend(d[s:e]),
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
                "on_end": self._end,
            },
        )

    # -- feeding ----------------------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        self.write_all((data,))

    def write_all(self, chunks: Sequence[bytes]) -> None:
        """Parse the chunks in order (as received: not joined, which would copy them once more)."""
        try:
            for data in chunks:
                self._parser.write(data)
        except MultipartParseError as exc:
            raise Unprocessable(f"The multipart body is malformed: {exc}", field="body") from exc

    def finish(self) -> list[FileT]:
        """The body has ended: check it was complete and return the files, closed and fsynced."""
        try:
            self._parser.finalize()
        except MultipartParseError as exc:
            raise Unprocessable(f"The multipart body is malformed: {exc}", field="body") from exc
        if not self._complete:
            raise Unprocessable("The multipart body ended before its closing boundary.", field="body")
        return self.files

    def close(self) -> None:
        """Close a file left open by an interrupted body."""
        if self._handle is not None:
            with contextlib.suppress(OSError):
                self._handle.close()
            self._handle = None

    # -- what a subclass decides ------------------------------------------------------------------------

    def check_name(self, name: str) -> None:
        """Any part's name, before anything else (raise an ApiError to refuse it)."""

    def check_field(self, name: str) -> None:
        """A text part's name (raise an ApiError naming it to refuse it)."""
        raise NotImplementedError

    def end_field(self, name: str, data: bytes) -> None:
        """A text part has ended: decode, check and keep it in `fields`."""
        raise NotImplementedError

    def begin_file(self, client_name: str) -> FileT:
        """A file part's headers have arrived: check it, `open_file` where it goes, and return it."""
        raise NotImplementedError

    def file_data(self, received: FileT, chunk: memoryview) -> None:
        """Bytes of the current file (its size already counts them): check them and `write_file` them."""
        self.write_file(chunk)

    def end_file(self, received: FileT) -> None:
        """The current file part has ended, before it is fsynced and closed."""

    # -- helpers for subclasses -------------------------------------------------------------------------

    def open_file(self, path: Path) -> None:
        self._handle = open(path, "xb")  # noqa: SIM115 - closed in _part_end or close()
        self._hash = hashlib.sha256()

    def write_file(self, chunk: memoryview) -> None:
        self._hash.update(chunk)
        assert self._handle is not None
        self._handle.write(chunk)

    # -- parser callbacks -------------------------------------------------------------------------------

    def _part_begin(self) -> None:
        self._disposition = b""
        self._header_name.clear()
        self._header_value.clear()

    def _header_end(self) -> None:
        if bytes(self._header_name).strip().lower() == b"content-disposition":
            self._disposition = bytes(self._header_value)
        self._header_name.clear()
        self._header_value.clear()

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        name = options.get(b"name", b"").decode("utf-8", errors="replace")
        self.check_name(name)
        if b"filename" in options:
            if name != FILES_FIELD:
                raise Unprocessable(f"Files go in the '{FILES_FIELD}' field, not '{name}'.", field=name)
            received = self.begin_file(options[b"filename"].decode("utf-8", errors="replace"))
            self.files.append(received)
            self.current = received
            return
        self.check_field(name)
        self._field_name = name
        self._field_data.clear()

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        received = self.current
        if received is None:
            if self._field_name is not None:
                if len(self._field_data) + end - start > self.max_field_bytes:
                    raise PayloadTooLarge(
                        f"'{self._field_name}' is larger than {self.max_field_bytes} bytes.",
                        field=self._field_name,
                    )
                self._field_data.extend(data[start:end])
            return
        chunk = memoryview(data)[start:end]
        received.size += len(chunk)
        self.file_data(received, chunk)

    def _part_end(self) -> None:
        received = self.current
        if received is None:
            if self._field_name is not None:
                name, self._field_name = self._field_name, None
                self.end_field(name, bytes(self._field_data))
            return
        self.end_file(received)
        assert self._handle is not None
        self._handle.flush()
        os.fsync(self._handle.fileno())  # once per file, at its end
        self._handle.close()
        self._handle = None
        received.sha256 = self._hash.hexdigest()
        self.current = None

    def _end(self) -> None:
        self._complete = True


async def drain(stream: AsyncIterator[bytes]) -> None:
    """Read (and drop) up to DRAIN_BYTES more of a refused body, so that the client, still sending, reads
    the answer instead of a reset connection."""
    seen = 0
    with contextlib.suppress(Exception):
        async for chunk in stream:
            seen += len(chunk)
            if seen > DRAIN_BYTES:
                break
