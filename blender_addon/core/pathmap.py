"""Two-way path mapping between the server's storage root and each workstation's mount of it.

Like Flamenco's two-way variables: the server stores paths relative to its storage root; a workstation
knows where that root is mounted on its own OS (``/mnt/nas/aipipe``, ``Z:\\aipipe``,
``/Volumes/nas/aipipe``). Standard library only: the Blender extension carries this module.
"""

from __future__ import annotations

import ntpath
import posixpath
import sys
from collections.abc import Mapping, Sequence

PLATFORMS = ("linux", "windows", "darwin")


def current_platform() -> str:
    if sys.platform.startswith("win"):
        return "windows"
    if sys.platform == "darwin":
        return "darwin"
    return "linux"


def _flavour(platform: str):
    return ntpath if platform == "windows" else posixpath


def _roots(mappings: Sequence[Mapping[str, str]], platform: str) -> list[str]:
    return [m[platform] for m in mappings if m.get(platform)]


def to_local(
    relative: str, mappings: Sequence[Mapping[str, str]], platform: str | None = None, exists: object = None
) -> str | None:
    """The path on this workstation of `relative` (``/``-separated, from the storage root), or None when no
    mapping names a root for this platform. With `exists` (a callable), the first root where it answers
    True wins, so a studio can list several mounts."""
    platform = platform or current_platform()
    path_mod = _flavour(platform)
    parts = [p for p in relative.split("/") if p]
    if any(p == ".." for p in parts):
        raise ValueError(f"{relative!r} climbs out of the storage root")
    candidates = _roots(mappings, platform)
    for root in candidates:
        if exists is None or exists(root):  # type: ignore[operator]
            return path_mod.join(root, *parts)
    return None


def to_relative(local: str, mappings: Sequence[Mapping[str, str]], platform: str | None = None) -> str | None:
    """The storage-relative path of a local file (e.g. the .blend just opened), or None when it is not
    under any mapped root of this platform."""
    platform = platform or current_platform()
    path_mod = _flavour(platform)
    fold = (lambda p: p.lower()) if platform == "windows" else (lambda p: p)
    norm_local = path_mod.normpath(local)
    for root in _roots(mappings, platform):
        norm_root = path_mod.normpath(root)
        prefix = norm_root.rstrip(path_mod.sep) + path_mod.sep
        if fold(norm_local) == fold(norm_root):
            return ""
        if fold(norm_local).startswith(fold(prefix)):
            return norm_local[len(prefix) :].replace(path_mod.sep, "/")
    return None


def translate(path: str, mappings: Sequence[Mapping[str, str]], source: str, target: str) -> str | None:
    """A path written on one platform as seen from another (e.g. a Windows artist's path on a Linux agent)."""
    relative = to_relative(path, mappings, source)
    return None if relative is None else to_local(relative, mappings, target)
