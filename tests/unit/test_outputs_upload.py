"""A job's output upload is streamed: parsed and written as it arrives, never held whole in memory."""

from __future__ import annotations

import hashlib
import threading
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sync_server.errors import ApiError
from sync_server.farm.outputs_upload import FEED_BYTES, QUEUED_FEEDS, OutputsReceiver, place, receive
from tests.support.aio import run as run_async

BOUNDARY = b"b0undary"
CHUNK = 64 * 1024  # what uvicorn hands a route at a time


def head(lease_id: str = "L1", name: str = "clip.mp4") -> bytes:
    lease = f'--b0undary\r\nContent-Disposition: form-data; name="lease_id"\r\n\r\n{lease_id}\r\n'
    file = f'--b0undary\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
    return (lease + file + "Content-Type: application/octet-stream\r\n\r\n").encode()


TAIL = b"\r\n--b0undary--\r\n"


async def body(size: int, digest: hashlib._Hash, lease_id: str = "L1") -> AsyncIterator[bytes]:
    """A multipart body with one file of `size` bytes, made as it is sent (64 KiB chunks)."""
    yield head(lease_id)
    sent, n = 0, 0
    while sent < size:
        chunk = (n.to_bytes(8, "little") * (CHUNK // 8))[: size - sent]
        digest.update(chunk)
        sent += len(chunk)
        n += 1
        yield chunk
    yield TAIL


def test_a_body_far_bigger_than_the_memory_it_may_use_is_written_and_hashed(tmp_path: Path) -> None:
    size = 160 * 1024 * 1024
    # The batches queued ahead, the one waiting to be queued, the one being written, the one being hashed
    # (a batch behind), the one filling.
    cap = (QUEUED_FEEDS + 4) * FEED_BYTES
    sent = hashlib.sha256()
    fields: list[tuple[str, str]] = []
    receiver = OutputsReceiver(BOUNDARY, tmp_path / "job", lambda n, v: fields.append((n, v)))
    tracemalloc.start()
    try:
        run_async(receive(body(size, sent), receiver))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    (received,) = receiver.finish()
    hashers = [t.name for t in threading.enumerate() if t.name.startswith("aipipe-upload-sha256")]
    assert hashers == []  # the upload's hasher thread ended with it
    assert peak < cap < size / 4, f"peak {peak / 2**20:.1f} MiB while receiving {size / 2**20:.0f} MiB"
    assert fields == [("lease_id", "L1")]
    assert (received.size, received.sha256) == (size, sent.hexdigest())
    entry = place(received, [], tmp_path)
    assert entry == {"name": "clip.mp4", "size": size, "sha256": sent.hexdigest(), "path": "job/clip.mp4"}
    assert [p.name for p in (tmp_path / "job").iterdir()] == ["clip.mp4"]  # no part file left


def test_a_refused_lease_stops_the_upload_before_the_file_is_written(tmp_path: Path) -> None:
    def refuse(name: str, value: str) -> None:
        raise ApiError("This job is no longer leased to you", field=name)

    receiver = OutputsReceiver(BOUNDARY, tmp_path / "job", refuse)
    with pytest.raises(ApiError):
        run_async(receive(body(8 * 1024 * 1024, hashlib.sha256(), "old"), receiver))
    receiver.discard()
    assert receiver.files == []
    assert not (tmp_path / "job").exists() or not any((tmp_path / "job").iterdir())


def test_an_interrupted_body_leaves_no_file(tmp_path: Path) -> None:
    async def cut() -> AsyncIterator[bytes]:
        yield head()
        yield b"x" * (5 * 1024 * 1024)

    receiver = OutputsReceiver(BOUNDARY, tmp_path / "job", lambda n, v: None)
    run_async(receive(cut(), receiver))
    with pytest.raises(ApiError, match="ended before its closing boundary"):
        receiver.finish()
    receiver.discard()
    assert list((tmp_path / "job").iterdir()) == []
    assert not [t for t in threading.enumerate() if t.name.startswith("aipipe-upload-sha256")]
