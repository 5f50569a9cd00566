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
import os
import re
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from python_multipart.multipart import parse_options_header
from starlette.requests import ClientDisconnect

from aipipe_shared.naming import safe_component

from ..errors import ApiError, Conflict, Unprocessable
from ..storage.multipart_stream import FILES_FIELD, MultipartStream, drain

TEXT_FIELDS = frozenset({"lease_id", "sha256"})
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
MAX_FILES = 100
MAX_FIELD_BYTES = 64 * 1024
FEED_BYTES = 4 * 1024 * 1024  # body bytes handed to the worker thread at a time
QUEUED_FEEDS = 2  # batches received ahead of the worker thread (bounds the memory per upload)
WRITEBACK_BYTES = 64 * 1024 * 1024  # bytes of a file handed on to the disk at a time (_start_writeback)


@dataclass
class ReceivedOutput:
    """One file part as it landed next to the job's outputs (a hidden `.part` file until placed)."""

    name: str  # safe name the output gets
    part: Path
    size: int = 0
    sha256: str = ""


class OutputsReceiver(MultipartStream[ReceivedOutput]):
    """Push parser for one outputs upload: `write(chunk)` in a worker thread, then `finish()`."""

    max_field_bytes = MAX_FIELD_BYTES

    def __init__(self, boundary: bytes, folder: Path, on_field: Callable[[str, str], None]) -> None:
        super().__init__(boundary)
        self.folder = folder
        self.on_field = on_field
        self._flushed = 0  # bytes of the current file handed to the disk's writeback
        self.declared: list[str] = []  # the agent's sha256 of each file, in order (check_declared)

    def discard(self) -> None:
        """Close and delete every part file (a refused or interrupted upload)."""
        self.close()
        for received in self.files:
            received.part.unlink(missing_ok=True)

    # -- what the parts may be --------------------------------------------------------------------------

    def check_field(self, name: str) -> None:
        if name not in TEXT_FIELDS:
            raise Unprocessable(
                f"Unknown field '{name}'; the fields are lease_id, sha256 and files.", field=name
            )

    def end_field(self, name: str, data: bytes) -> None:
        value = data.decode("utf-8", errors="replace")
        self.fields[name] = value
        if name == "sha256":
            self.declared.append(value)
        self.on_field(name, value)

    def begin_file(self, client_name: str) -> ReceivedOutput:
        if len(self.files) >= MAX_FILES:
            raise Unprocessable(f"At most {MAX_FILES} files per upload.", field=FILES_FIELD)
        safe = safe_component(Path(client_name).name or "output")
        received = ReceivedOutput(safe, self.folder / f".{safe}.{uuid.uuid4().hex}.part")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.open_file(received.part)
        self._flushed = 0
        return received

    def file_data(self, received: ReceivedOutput, chunk: memoryview) -> None:
        self.write_file(chunk)
        if received.size - self._flushed >= WRITEBACK_BYTES:
            self._start_writeback(received.size)

    def _start_writeback(self, upto: int) -> None:
        """Have the kernel start writing what was written so far to disk (asynchronously): the disk works
        while the rest arrives, and the fsync at the end has little left to wait for. (Linux: fadvise
        DONTNEED starts writeback of the dirty range and drops the pages already clean.)"""
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(self.file_fd, 0, upto, os.POSIX_FADV_DONTNEED)
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
        await drain(stream)
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


def check_declared(declared: list[str], files: list[ReceivedOutput]) -> None:
    """The agent's own hashes (`sha256` fields, one per file in the files' order; optional) must be those
    of the bytes received: else 422 (they changed on the way; the caller discards the part files, so
    nothing is stored)."""
    if len(declared) > len(files):
        raise Unprocessable(
            f"{len(declared)} sha256 fields for {len(files)} file(s): send one per file, in their order.",
            field="sha256",
        )
    for value, received in zip(declared, files, strict=False):
        expected = value.strip().lower()
        if not SHA256_HEX.fullmatch(expected):
            raise Unprocessable(f"sha256 of {received.name} must be 64 hexadecimal digits.", field="sha256")
        if received.sha256 != expected:
            raise Unprocessable(
                f"{received.name} arrived with sha256 {received.sha256} ({received.size} bytes), not the "
                f"sha256 sent with it ({expected}): it changed on the way and was not stored; send it again.",
                field="sha256",
            )


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
