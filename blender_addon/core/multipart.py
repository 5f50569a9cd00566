"""A `multipart/form-data` body streamed from disk, with a known length (so uploads show progress)."""

from __future__ import annotations

import mimetypes
import os
import secrets
from collections.abc import Callable, Iterator, Mapping

CHUNK_BYTES = 256 * 1024


class MultipartBody:
    """Text fields first (the server checks `stage` before any file arrives), then the files."""

    def __init__(self, fields: Mapping[str, str], files: list[str], file_field: str = "files") -> None:
        for path in files:
            if not os.path.isfile(path):
                raise FileNotFoundError(f"no file to upload at {path}")
        self.boundary = f"aipipe-{secrets.token_hex(16)}"
        self._fields = dict(fields)
        self._files = list(files)
        self._file_field = file_field

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def _field_part(self, name: str, value: str) -> bytes:
        return (
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value.encode("utf-8")
            + b"\r\n"
        )

    def _file_head(self, path: str) -> bytes:
        name = os.path.basename(path).replace('"', "_")
        kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return (
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="{self._file_field}"; '
            f'filename="{name}"\r\nContent-Type: {kind}\r\n\r\n'
        ).encode()

    def _tail(self) -> bytes:
        return f"--{self.boundary}--\r\n".encode()

    @property
    def length(self) -> int:
        size = sum(len(self._field_part(k, v)) for k, v in self._fields.items())
        size += sum(len(self._file_head(p)) + os.path.getsize(p) + 2 for p in self._files)
        return size + len(self._tail())

    def chunks(self, progress: Callable[[int, int], None] | None = None) -> Iterator[bytes]:
        """The body in pieces of at most 256 KiB of file data; `progress(done, total)` after each."""
        total, done = self.length, 0

        def step(piece: bytes) -> bytes:
            nonlocal done
            done += len(piece)
            if progress:
                progress(done, total)
            return piece

        for name, value in self._fields.items():
            yield step(self._field_part(name, value))
        for path in self._files:
            yield step(self._file_head(path))
            with open(path, "rb") as source:
                while piece := source.read(CHUNK_BYTES):
                    yield step(piece)
            yield step(b"\r\n")
        yield step(self._tail())
