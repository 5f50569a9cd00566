"""A job's output upload as it streams in: the multipart body is parsed while it arrives, each file part
written straight into the job's outputs folder (hashed on the way, fsynced once at its end, then renamed
into place), never spooled to a temporary file or held in memory.

The event loop only collects the body: it hands it, FEED_BYTES at a time, to a worker thread that parses,
hashes and writes, and goes on receiving while that thread works (a small queue between the two). Text
fields are checked when they end (`on_field`): a lost lease is refused before the files behind it arrive.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

from aipipe_shared.naming import safe_component

from ..errors import ApiError, Conflict, PayloadTooLarge, Unprocessable

FILES_FIELD = "files"
TEXT_FIELDS = frozenset({"lease_id", "sha256"})
MAX_FILES = 100
MAX_FIELD_BYTES = 64 * 1024
FEED_BYTES = 4 * 1024 * 1024  # body bytes handed to the worker thread at a time
QUEUED_FEEDS = 2  # batches received ahead of the worker thread (bounds the memory per upload)
WRITEBACK_BYTES = 64 * 1024 * 1024  # bytes of a file handed on to the disk at a time (_start_writeback)
DRAIN_BYTES = 64 * 1024 * 1024  # after an early refusal, read this much more so the client sees the answer


@dataclass
class ReceivedOutput:
    """One file part as it landed next to the job's outputs (a hidden `.part` file until placed)."""

    name: str  # safe name the output gets
    part: Path
    size: int = 0
    sha256: str = ""


class OutputsReceiver:
    """Push parser for one outputs upload: `write(chunk)` in a worker thread, then `finish()`."""

    def __init__(self, boundary: bytes, folder: Path, on_field: Callable[[str, str], None]) -> None:
        self.folder = folder
        self.on_field = on_field
        self.fields: dict[str, str] = {}
        self.files: list[ReceivedOutput] = []
        self._current: ReceivedOutput | None = None
        self._handle: BinaryIO | None = None
        self._hash = hashlib.sha256()
        self._flushed = 0  # bytes of the current file handed to the disk's writeback
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

    def write(self, data: bytes) -> None:
        self.write_all((data,))

    def write_all(self, chunks: Sequence[bytes]) -> None:
        """Parse the chunks in order (as received: not joined, which would copy them once more)."""
        try:
            for data in chunks:
                self._parser.write(data)
        except MultipartParseError as exc:
            raise Unprocessable(f"The multipart body is malformed: {exc}", field="body") from exc

    def finish(self) -> list[ReceivedOutput]:
        try:
            self._parser.finalize()
        except MultipartParseError as exc:
            raise Unprocessable(f"The multipart body is malformed: {exc}", field="body") from exc
        if not self._complete:
            raise Unprocessable("The multipart body ended before its closing boundary.", field="body")
        return self.files

    def discard(self) -> None:
        """Close and delete every part file (a refused or interrupted upload)."""
        if self._handle is not None:
            with contextlib.suppress(OSError):
                self._handle.close()
            self._handle = None
        for received in self.files:
            received.part.unlink(missing_ok=True)

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
        if b"filename" in options:
            if name != FILES_FIELD:
                raise Unprocessable(f"Files go in the '{FILES_FIELD}' field, not '{name}'.", field=name)
            if len(self.files) >= MAX_FILES:
                raise Unprocessable(f"At most {MAX_FILES} files per upload.", field=FILES_FIELD)
            client_name = options[b"filename"].decode("utf-8", errors="replace")
            safe = safe_component(Path(client_name).name or "output")
            received = ReceivedOutput(safe, self.folder / f".{safe}.{uuid.uuid4().hex}.part")
            self.folder.mkdir(parents=True, exist_ok=True)
            self._handle = open(received.part, "xb")  # noqa: SIM115 - closed in _part_end or discard()
            self._hash = hashlib.sha256()
            self._flushed = 0
            self.files.append(received)
            self._current = received
            return
        if name not in TEXT_FIELDS:
            raise Unprocessable(
                f"Unknown field '{name}'; the fields are lease_id, sha256 and files.", field=name
            )
        self._field_name = name
        self._field_data.clear()

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        received = self._current
        if received is None:
            if self._field_name is not None:
                if len(self._field_data) + end - start > MAX_FIELD_BYTES:
                    raise PayloadTooLarge(
                        f"'{self._field_name}' is larger than {MAX_FIELD_BYTES} bytes.",
                        field=self._field_name,
                    )
                self._field_data.extend(data[start:end])
            return
        chunk = memoryview(data)[start:end]
        received.size += len(chunk)
        self._hash.update(chunk)
        assert self._handle is not None
        self._handle.write(chunk)
        if received.size - self._flushed >= WRITEBACK_BYTES:
            self._start_writeback(received.size)

    def _part_end(self) -> None:
        received = self._current
        if received is None:
            if self._field_name is not None:
                name, self._field_name = self._field_name, None
                value = bytes(self._field_data).decode("utf-8", errors="replace")
                self.fields[name] = value
                self.on_field(name, value)
            return
        assert self._handle is not None
        self._handle.flush()
        os.fsync(self._handle.fileno())  # once per file, at its end
        self._handle.close()
        self._handle = None
        received.sha256 = self._hash.hexdigest()
        self._current = None

    def _end(self) -> None:
        self._complete = True

    def _start_writeback(self, upto: int) -> None:
        """Have the kernel start writing what was written so far to disk (asynchronously): the disk works
        while the rest arrives, and the fsync at the end has little left to wait for. (Linux: fadvise
        DONTNEED starts writeback of the dirty range and drops the pages already clean.)"""
        assert self._handle is not None
        self._handle.flush()
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(self._handle.fileno(), 0, upto, os.POSIX_FADV_DONTNEED)
        self._flushed = upto


async def receive(stream: AsyncIterator[bytes], receiver: OutputsReceiver) -> None:
    """Feed the body to `receiver` in a worker thread while the next bytes are received; the receiver's
    errors (and a client that went away) end it. On an error, part files are left for the caller's
    `discard`."""
    queue: asyncio.Queue[list[bytes] | None] = asyncio.Queue(maxsize=QUEUED_FEEDS)

    async def feed() -> None:
        while (batch := await queue.get()) is not None:
            await asyncio.to_thread(receiver.write_all, batch)

    writer = asyncio.create_task(feed(), name="aipipe-outputs-upload")
    pending: list[bytes] = []
    size = 0
    try:
        async for chunk in stream:
            pending.append(chunk)
            size += len(chunk)
            if size >= FEED_BYTES:
                await _put(queue, writer, pending)
                pending, size = [], 0
            if writer.done():
                break
        if not writer.done():
            await _put(queue, writer, pending)
            await _put(queue, writer, None)
        await writer
    except ApiError:
        await _drain(stream)
        raise
    except ClientDisconnect as exc:
        raise ApiError("The upload was interrupted before the body ended.", field="body") from exc
    finally:
        if not writer.done():
            writer.cancel()
            with contextlib.suppress(BaseException):
                await writer


async def _put(
    queue: asyncio.Queue[list[bytes] | None], writer: asyncio.Task[None], item: list[bytes] | None
) -> None:
    """Queue a batch unless the worker has stopped (its error is raised by awaiting it)."""
    put = asyncio.ensure_future(queue.put(item))
    await asyncio.wait({put, writer}, return_when=asyncio.FIRST_COMPLETED)
    if not put.done():
        put.cancel()
        await writer  # raises the worker's error


async def _drain(stream: AsyncIterator[bytes]) -> None:
    seen = 0
    with contextlib.suppress(Exception):
        async for chunk in stream:
            seen += len(chunk)
            if seen > DRAIN_BYTES:
                break


def place(
    received: ReceivedOutput, outputs: list[dict[str, object]], storage_root: Path
) -> dict[str, object]:
    """Rename a received file into the job's outputs; the same name with the same bytes is a no-op (the
    part is dropped), with other bytes a 409."""
    for existing in outputs:
        if existing["name"] == received.name:
            received.part.unlink(missing_ok=True)
            if existing["sha256"] != received.sha256:
                raise Conflict(
                    f"An output named {received.name} was already uploaded with other bytes.", field="files"
                )
            return existing
    target = received.part.parent / received.name
    received.part.replace(target)
    return {
        "name": received.name,
        "size": received.size,
        "sha256": received.sha256,
        "path": target.relative_to(storage_root).as_posix(),
    }


def boundary_of(content_type: str | None) -> bytes:
    kind, options = parse_options_header(content_type or "")
    if kind != b"multipart/form-data" or not options.get(b"boundary"):
        raise Unprocessable("Send the outputs as multipart/form-data: lease_id and files.", field="body")
    return options[b"boundary"]
