"""`MANIFEST.sha256` inside a project archive: the sha256 of every other file the zip holds.

The format is `sha256sum`'s (`<hex>  <path>` per line), so an unpacked archive can also be checked with
`sha256sum -c MANIFEST.sha256`. `verify_archive` reads every member back and names each file that is
missing, changed, or not in the manifest (`aipipe project verify`).
"""

from __future__ import annotations

import hashlib
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

MANIFEST_NAME = "MANIFEST.sha256"
CHUNK = 1024 * 1024
LINE = re.compile(r"^(?P<sha>[0-9a-f]{64}) [ *](?P<path>.+)$")


class ManifestError(Exception):
    """An archive whose manifest cannot be read at all; the message says why."""


def manifest_text(digests: dict[str, str]) -> str:
    """The manifest for `digests` (member -> sha256 hex), sorted by path."""
    for member in digests:
        if "\n" in member or "\r" in member:
            raise ValueError(f"a file name with a line break cannot be listed in {MANIFEST_NAME}: {member!r}")
    return "".join(f"{sha}  {member}\n" for member, sha in sorted(digests.items()))


def parse_manifest(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        match = LINE.match(line)
        if match is None:
            raise ManifestError(f"{MANIFEST_NAME} line {number} is not '<sha256>  <path>': {line[:120]!r}")
        found[match["path"]] = match["sha"]
    return found


@dataclass
class ArchiveCheck:
    path: Path
    files: int = 0  # listed in the manifest
    missing: list[str] = field(default_factory=list)  # listed, not in the zip
    changed: list[str] = field(default_factory=list)  # in the zip with another checksum (or unreadable)
    extra: list[str] = field(default_factory=list)  # in the zip, not listed

    @property
    def ok(self) -> bool:
        return not (self.missing or self.changed or self.extra)


def verify_archive(path: Path) -> ArchiveCheck:
    """Check every file of the archive at `path` against its `MANIFEST.sha256`."""
    if not path.is_file():
        raise ManifestError(f"{path} does not exist or is not a file")
    check = ArchiveCheck(path)
    try:
        with zipfile.ZipFile(path) as bundle:
            try:
                raw = bundle.read(MANIFEST_NAME)
            except KeyError as exc:
                raise ManifestError(
                    f"{path} has no {MANIFEST_NAME}: not a project archive, or one made before archives "
                    "carried checksums"
                ) from exc
            try:
                listed = parse_manifest(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise ManifestError(f"{MANIFEST_NAME} in {path} is not UTF-8 text") from exc
            check.files = len(listed)
            names = {info.filename for info in bundle.infolist() if not info.is_dir()} - {MANIFEST_NAME}
            for member, sha in sorted(listed.items()):
                if member not in names:
                    check.missing.append(member)
                elif _member_sha(bundle, member) != sha:
                    check.changed.append(member)
            check.extra = sorted(names - set(listed))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise ManifestError(f"{path} is not a readable zip (truncated or corrupt?): {exc}") from exc
    return check


def _member_sha(bundle: zipfile.ZipFile, member: str) -> str | None:
    digest = hashlib.sha256()
    try:
        with bundle.open(member) as src:
            while chunk := src.read(CHUNK):
                digest.update(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError):
        return None  # damaged data (the zip's own CRC check fails): reported as changed
    return digest.hexdigest()
