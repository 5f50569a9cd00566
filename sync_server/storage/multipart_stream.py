"""A multipart/form-data body parsed as it arrives (python-multipart's push parser), the part that every
streaming upload shares: headers and Content-Disposition, text fields collected up to a size limit, file
parts written to an open file while hashed, fsynced once at their end, and a body checked complete.

A file's bytes are written (`os.write` on its descriptor, no buffering layer) by the thread that parses,
and hashed by a second thread one batch behind (`FileSink`): both release the GIL on big buffers, so
on two cores the sha256 no longer adds to the write. The hasher holds at most one batch (what one
`write_all` received) besides the one being written.

A subclass says what a part may be called (`check_field`, `check_name`), where a file goes and what it
checks on the way (`begin_file`, `file_data`, `end_file`), and what a field's bytes become (`end_field`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from ..errors import PayloadTooLarge, Unprocessable

FILES_FIELD = "files"
DRAIN_BYTES = 64 * 1024 * 1024  # after an early refusal, read this much more so the client sees the answer


class ReceivedPart(Protocol):
    size: int
    sha256: str


FileT = TypeVar("FileT", bound=ReceivedPart)


class FileSink:
    """One file being received: bytes written to its descriptor at once, hashed by `hasher` (one thread)
    a batch behind. `end_batch()` after each batch hands its bytes to the hasher (waiting for the batch
    before, so at most one is held); `finish()` fsyncs, closes and returns the sha256."""

    def __init__(self, path: Path, hasher: ThreadPoolExecutor) -> None:
        self.fd: int | None = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        self._hasher = hasher
        self._digest = hashlib.sha256()
        self._batch: list[memoryview] = []
        self._hashing: Future[None] | None = None

    def write(self, chunk: memoryview) -> None:
        assert self.fd is not None
        done = os.write(self.fd, chunk)
        while done < len(chunk):  # a regular file takes it whole unless the disk is full; be sure
            done += os.write(self.fd, chunk[done:])
        self._batch.append(chunk)

    def end_batch(self) -> None:
        """Hash the bytes written since the last call in the hasher thread (after the previous batch)."""
        if not self._batch:
            return
        self._wait()
        batch, self._batch = self._batch, []
        self._hashing = self._hasher.submit(self._hash, batch)

    def _hash(self, batch: list[memoryview]) -> None:
        for chunk in batch:
            self._digest.update(chunk)

    def _wait(self) -> None:
        if self._hashing is not None:
            hashing, self._hashing = self._hashing, None
            hashing.result()

    def finish(self) -> str:
        """fsync and close the file; its sha256 (hex)."""
        assert self.fd is not None
        self.end_batch()
        os.fsync(self.fd)  # once per file, at its end
        self.close()
        self._wait()
        return self._digest.hexdigest()

    def close(self) -> None:
        if self.fd is not None:
            fd, self.fd = self.fd, None
            os.close(fd)


class MultipartStream(Generic[FileT]):
    """Push parser for one upload: `write(chunk)` / `write_all(chunks)` as bytes arrive (in a worker
    thread), then `finish()`; `close()` closes a file left open by an interrupted body."""

    max_field_bytes: int = 64 * 1024

    def __init__(self, boundary: bytes) -> None:
        self.fields: dict[str, str] = {}
        self.files: list[FileT] = []
        self.current: FileT | None = None
        self._sink: FileSink | None = None
        self._hasher: ThreadPoolExecutor | None = None  # made with the first file, ended by finish/close
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
        """Parse the chunks in order (as received: not joined, which would copy them once more). They
        are hashed after this returns (FileSink): a mutable buffer is copied first."""
        try:
            for data in chunks:
                self._parser.write(data if isinstance(data, bytes) else bytes(data))
        except MultipartParseError as exc:
            raise Unprocessable(f"The multipart body is malformed: {exc}", field="body") from exc
        if self._sink is not None:
            self._sink.end_batch()

    def finish(self) -> list[FileT]:
        """The body has ended: check it was complete and return the files, closed and fsynced."""
        try:
            self._parser.finalize()
        except MultipartParseError as exc:
            raise Unprocessable(f"The multipart body is malformed: {exc}", field="body") from exc
        finally:
            self._stop_hasher()
        if not self._complete:
            raise Unprocessable("The multipart body ended before its closing boundary.", field="body")
        return self.files

    def close(self) -> None:
        """Close a file left open by an interrupted body (and the hasher thread)."""
        if self._sink is not None:
            with contextlib.suppress(OSError):
                self._sink.close()
            self._sink = None
        self._stop_hasher()

    def _stop_hasher(self) -> None:
        if self._hasher is not None:
            self._hasher.shutdown(wait=True, cancel_futures=True)
            self._hasher = None

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
        if self._hasher is None:
            self._hasher = ThreadPoolExecutor(1, thread_name_prefix="aipipe-upload-sha256")
        self._sink = FileSink(path, self._hasher)  # closed in _part_end or close()

    def write_file(self, chunk: memoryview) -> None:
        assert self._sink is not None
        self._sink.write(chunk)

    @property
    def file_fd(self) -> int:
        """The descriptor of the file being received."""
        assert self._sink is not None and self._sink.fd is not None
        return self._sink.fd

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
        assert self._sink is not None
        sink, self._sink = self._sink, None
        try:
            received.sha256 = sink.finish()
        finally:
            sink.close()
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
