"""A multipart/form-data body streamed straight into a staging folder, checked while it arrives.

Each file part is written to disk as its bytes come (never held whole in memory), hashed on the way, and
refused as early as possible: a bad extension when its headers arrive, content that disagrees with the
extension after the first few KiB, a size over the limit the moment it passes it. Text fields are handed to
a validator when they end, so a bad `stage` is refused before the files behind it are received.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from python_multipart.multipart import parse_options_header

from aipipe_shared.naming import safe_component

from ..errors import ApiError, PayloadTooLarge, Unprocessable
from ..storage.multipart_stream import FILES_FIELD, MultipartStream
from . import sniff

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


class FormReceiver(MultipartStream[ReceivedFile]):
    """Push parser for one upload: `write(chunk)` as bytes arrive (in a worker thread), then `finish()`."""

    max_field_bytes = MAX_FIELD_BYTES

    def __init__(self, boundary: bytes, folder: Path, rules: UploadRules) -> None:
        super().__init__(boundary)
        self.folder = folder
        self.rules = rules
        self._names: set[str] = set()
        self._head = bytearray()
        self._sniffed = False

    # -- what the parts may be --------------------------------------------------------------------------

    def check_name(self, name: str) -> None:
        if not name:
            raise Unprocessable("A part of the body has no Content-Disposition name.", field="body")

    def check_field(self, name: str) -> None:
        if name == FILES_FIELD:
            raise Unprocessable(f"'{FILES_FIELD}' must be file parts (with a filename).", field=name)
        if name not in self.rules.text_fields:
            allowed = ", ".join(sorted(self.rules.text_fields | {FILES_FIELD}))
            raise Unprocessable(f"Unknown field '{name}'; the fields are {allowed}.", field=name)
        if name in self.fields:
            raise Unprocessable(f"'{name}' is sent more than once.", field=name)

    def end_field(self, name: str, data: bytes) -> None:
        try:
            value = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Unprocessable(f"'{name}' is not UTF-8 text.", field=name) from exc
        self.rules.validate_field(name, value)
        self.fields[name] = value

    def begin_file(self, client_name: str) -> ReceivedFile:
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
        self.open_file(received.path)
        self._head.clear()
        self._sniffed = False
        return received

    def file_data(self, received: ReceivedFile, chunk: memoryview) -> None:
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
        self.write_file(chunk)

    def end_file(self, received: ReceivedFile) -> None:
        if not self._sniffed:
            self._sniff(received)

    def _sniff(self, received: ReceivedFile) -> None:
        try:
            received.mime = sniff.check(received.ext, bytes(self._head), received.size)
        except sniff.Mismatch as exc:
            raise file_error(Unprocessable, received, received.index, received.client_name, str(exc)) from exc
        self._sniffed = True
