"""A multipart/form-data body streamed straight into a staging folder, checked while it arrives.

Each file part is written to disk as its bytes come (never held whole in memory), hashed on the way, and
refused as early as possible: a bad extension when its headers arrive, content that disagrees with the
extension after the first few KiB, a size over the limit the moment it passes it. Text fields are handed to
a validator when they end, so a bad `stage` is refused before the files behind it are received.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from aipipe_shared.naming import safe_component

from ..errors import ApiError, PayloadTooLarge, Unprocessable
from . import sniff

FILES_FIELD = "files"
MAX_FILES = 500  # files in one version
MAX_FIELD_BYTES = 1024 * 1024  # one text field (provenance can carry a whole workflow)
MAX_NAME_BYTES = 255


class UnsupportedMediaType(ApiError):
    status, title, type_slug = 415, "Unsupported media type", "unsupported-media-type"


@dataclass(frozen=True)
class UploadRules:
    extensions: frozenset[str]
    max_file_bytes: int
    text_fields: frozenset[str]
    validate_field: Callable[[str, str], None]  # raises an ApiError naming the field


@dataclass
class ReceivedFile:
    """One file part as it landed in staging."""

    index: int
    client_name: str  # as sent (NFC), for messages
    name: str  # safe name on disk
    ext: str
    path: Path
    size: int = 0
    sha256: str = ""
    mime: str = ""
    media: dict[str, object] = field(default_factory=dict)

    @property
    def field(self) -> str:
        return f"{FILES_FIELD}.{self.index}"


def file_error(
    cls: type[ApiError], received: ReceivedFile | None, index: int, name: str, why: str
) -> ApiError:
    """An error naming the file: in the message, and as `files.<n>` with `file` in its entry."""
    where = received.field if received else f"{FILES_FIELD}.{index}"
    detail = f"{name}: {why}"
    return cls(detail, errors=[{"field": where, "message": detail, "file": name}], file=name)


def boundary_of(content_type: str | None) -> bytes:
    kind, options = parse_options_header(content_type or "")
    if kind != b"multipart/form-data" or not options.get(b"boundary"):
        raise UnsupportedMediaType(
            "Send the version as multipart/form-data (fields stage, comment, provenance, rename; one or more "
            f"'{FILES_FIELD}').",
            field="Content-Type",
        )
    return options[b"boundary"]


# Bidirectional controls (U+202A-U+202E, U+2066-U+2069, the marks U+200E/U+200F/U+061C) make a name
# display unlike what it is ("photo<RLO>gnp.exe" shows as "photoexe.png"): they are dropped.
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


def split_name(client_name: str) -> tuple[str, str]:
    """The last path component of a client's file name, NFC, without bidirectional controls, and its
    lower-case extension ('' if none)."""
    visible = BIDI_CONTROLS.sub("", client_name)
    base = unicodedata.normalize("NFC", re.split(r"[\\/]", visible)[-1]).strip()
    stem, dot, ext = base.rpartition(".")
    if not dot or not stem.strip(" ."):
        return base, ""
    return base, ext.strip().lower()


def safe_file_name(base: str, ext: str) -> str:
    """`base` made safe on every OS, cut to 255 bytes without losing the extension, never hidden."""
    stem = base[: -(len(ext) + 1)] if ext else base
    budget = MAX_NAME_BYTES - len(ext.encode("utf-8")) - 2  # the dot, and a '_' if the name starts with '.'
    raw = stem.encode("utf-8")
    if len(raw) > budget:
        stem = raw[:budget].decode("utf-8", errors="ignore")
    name = safe_component(f"{stem}.{ext}" if ext else stem)
    return f"_{name}" if name.startswith(".") else name


class FormReceiver:
    """Push parser for one upload: `write(chunk)` as bytes arrive (in a worker thread), then `finish()`."""

    def __init__(self, boundary: bytes, folder: Path, rules: UploadRules) -> None:
        self.folder = folder
        self.rules = rules
        self.fields: dict[str, str] = {}
        self.files: list[ReceivedFile] = []
        self.current: ReceivedFile | None = None
        self._names: set[str] = set()
        self._handle: BinaryIO | None = None
        self._hash = hashlib.sha256()
        self._head = bytearray()
        self._sniffed = False
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
        try:
            self._parser.write(data)
        except MultipartParseError as exc:
            raise Unprocessable(f"The multipart body is malformed: {exc}", field="body") from exc

    def finish(self) -> list[ReceivedFile]:
        """The body has ended: check it was complete and return the files, closed and fsynced."""
        try:
            self._parser.finalize()
        except MultipartParseError as exc:
            raise Unprocessable(f"The multipart body is malformed: {exc}", field="body") from exc
        if not self._complete:
            raise Unprocessable("The multipart body ended before its closing boundary.", field="body")
        return self.files

    def close(self) -> None:
        """Close a file left open by an interrupted body (the caller removes the folder)."""
        if self._handle is not None:
            with contextlib.suppress(OSError):
                self._handle.close()
            self._handle = None

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
        if not name:
            raise Unprocessable("A part of the body has no Content-Disposition name.", field="body")
        if b"filename" in options:
            if name != FILES_FIELD:
                raise Unprocessable(f"Files go in the '{FILES_FIELD}' field, not '{name}'.", field=name)
            self._begin_file(options[b"filename"].decode("utf-8", errors="replace"))
            return
        if name == FILES_FIELD:
            raise Unprocessable(f"'{FILES_FIELD}' must be file parts (with a filename).", field=name)
        if name not in self.rules.text_fields:
            allowed = ", ".join(sorted(self.rules.text_fields | {FILES_FIELD}))
            raise Unprocessable(f"Unknown field '{name}'; the fields are {allowed}.", field=name)
        if name in self.fields:
            raise Unprocessable(f"'{name}' is sent more than once.", field=name)
        self._field_name = name
        self._field_data.clear()

    def _begin_file(self, client_name: str) -> None:
        index = len(self.files)
        base, ext = split_name(client_name)
        shown = base or client_name or f"file {index + 1}"
        if index >= MAX_FILES:
            raise file_error(Unprocessable, None, index, shown, f"a version holds at most {MAX_FILES} files")
        if not ext:
            raise file_error(Unprocessable, None, index, shown, "the file name has no extension")
        if ext not in self.rules.extensions:
            allowed = ", ".join(sorted(self.rules.extensions))
            raise file_error(
                Unprocessable, None, index, shown, f"'.{ext}' files are not accepted ({allowed})"
            )
        name = safe_file_name(base, ext)
        if name.casefold() in self._names:
            raise file_error(
                Unprocessable, None, index, shown, f"another file in this upload is named {name}"
            )
        self._names.add(name.casefold())
        received = ReceivedFile(index, shown, name, ext, self.folder / name)
        self._handle = open(received.path, "xb")  # noqa: SIM115 - closed in _part_end or close()
        self._hash = hashlib.sha256()
        self._head.clear()
        self._sniffed = False
        self.files.append(received)
        self.current = received

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        received = self.current
        if received is None:
            if self._field_name is not None:
                if len(self._field_data) + end - start > MAX_FIELD_BYTES:
                    raise PayloadTooLarge(
                        f"'{self._field_name}' is larger than {MAX_FIELD_BYTES} bytes.",
                        field=self._field_name,
                    )
                self._field_data.extend(data[start:end])
            return
        chunk = data[start:end]
        received.size += len(chunk)
        if received.size > self.rules.max_file_bytes:
            raise file_error(
                PayloadTooLarge,
                received,
                received.index,
                received.client_name,
                f"the file is larger than the limit of {self.rules.max_file_bytes} bytes",
            )
        if not self._sniffed:
            self._head.extend(chunk[: sniff.SNIFF_BYTES - len(self._head)])
            if len(self._head) >= sniff.SNIFF_BYTES:
                self._sniff(received)
        self._hash.update(chunk)
        assert self._handle is not None
        self._handle.write(chunk)

    def _part_end(self) -> None:
        received = self.current
        if received is None:
            if self._field_name is not None:
                name, self._field_name = self._field_name, None
                try:
                    value = bytes(self._field_data).decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise Unprocessable(f"'{name}' is not UTF-8 text.", field=name) from exc
                self.rules.validate_field(name, value)
                self.fields[name] = value
            return
        if not self._sniffed:
            self._sniff(received)
        assert self._handle is not None
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        self._handle = None
        received.sha256 = self._hash.hexdigest()
        self.current = None

    def _sniff(self, received: ReceivedFile) -> None:
        try:
            received.mime = sniff.check(received.ext, bytes(self._head), received.size)
        except sniff.Mismatch as exc:
            raise file_error(Unprocessable, received, received.index, received.client_name, str(exc)) from exc
        self._sniffed = True

    def _end(self) -> None:
        self._complete = True
