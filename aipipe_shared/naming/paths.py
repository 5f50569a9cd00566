"""Containment: every path the naming engine hands out or accepts stays inside the storage root."""

from __future__ import annotations

import ntpath
import os
import re

from .errors import PathOutsideRootError

_SEPARATORS = re.compile(r"[\\/]")

StrPath = str | os.PathLike[str]


def is_absolute_path(path: str) -> bool:
    """True for POSIX and Windows absolute forms: ``/x``, ``\\x``, ``C:\\x``, ``C:x``, UNC shares."""
    # Checked on every OS: a Windows path stored by one workstation must not be trusted on another.
    return path.startswith(("/", "\\")) or bool(ntpath.splitdrive(path)[0])


def split_relative(path: StrPath) -> tuple[str, ...]:
    """Split a relative path on ``/`` and ``\\`` into components, refusing absolute paths and ``..``."""
    text = os.fspath(path)
    if is_absolute_path(text):
        raise PathOutsideRootError(f"{text!r} is absolute; expected a path relative to the storage root")
    parts = tuple(part for part in _SEPARATORS.split(text) if part not in ("", "."))
    if ".." in parts:
        raise PathOutsideRootError(f"{text!r} contains '..'; paths may not climb out of the storage root")
    return parts


def _inside(real_root: str, candidate: str) -> bool:
    try:
        return os.path.commonpath([real_root, candidate]) == real_root
    except ValueError:
        # Different drives on Windows: certainly not inside.
        return False


def resolve_inside(root: StrPath, relative: StrPath) -> str:
    """Return the real absolute path of `relative` under `root`; refuse '..', absolute paths and
    symlinks that lead outside the root."""
    parts = split_relative(relative)
    real_root = os.path.realpath(root)
    candidate = os.path.realpath(os.path.join(real_root, *parts))
    if not _inside(real_root, candidate):
        raise PathOutsideRootError(
            f"{os.fspath(relative)!r} resolves to {candidate!r}, outside the storage root {real_root!r}"
            " (a symbolic link leads out of it)"
        )
    return candidate


def relative_to_root(root: StrPath, path: StrPath) -> str:
    """Return `path` (absolute or relative) as a ``/``-separated path relative to `root`; refuse any
    path that is, or resolves to, a place outside the root."""
    text = os.fspath(path)
    real_root = os.path.realpath(root)
    if is_absolute_path(text):
        if not os.path.isabs(text):
            # e.g. 'C:\\x' on Linux: realpath would quietly treat it as relative to the working directory.
            raise PathOutsideRootError(f"{text!r} is not an absolute path on this system")
        candidate = os.path.realpath(text)
        if not _inside(real_root, candidate):
            raise PathOutsideRootError(f"{text!r} is outside the storage root {real_root!r}")
    else:
        candidate = resolve_inside(real_root, text)
    relative = os.path.relpath(candidate, real_root)
    return "" if relative == "." else relative.replace(os.sep, "/")
