"""Files written atomically into the shared storage tree get the mode the umask gives (not mkstemp's 0600),
so other accounts on the NAS can read the EDLs, workbooks and exports."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sync_server.storage.atomic import atomic_write_bytes, atomic_write_json, umask


@pytest.fixture
def set_umask() -> Iterator[Callable[[int], None]]:
    before = os.umask(0o022)
    os.umask(before)

    def change(value: int) -> None:
        os.umask(value)

    try:
        yield change
    finally:
        os.umask(before)


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_a_new_file_follows_the_umask(
    set_umask: Callable[[int], None], tmp_path: Path, mask: int, mode: int
) -> None:
    set_umask(mask)
    target = tmp_path / "edit" / "cut.edl"
    atomic_write_bytes(target, b"TITLE: cut\n")
    atomic_write_json(tmp_path / "meta.json", {"a": 1})
    assert stat.S_IMODE(target.stat().st_mode) == mode
    assert stat.S_IMODE((tmp_path / "meta.json").stat().st_mode) == mode
    assert umask() == mask
    assert [p.name for p in target.parent.iterdir()] == ["cut.edl"]  # no temporary file left


def test_replacing_a_file_gives_it_the_umask_mode_too(
    set_umask: Callable[[int], None], tmp_path: Path
) -> None:
    set_umask(0o022)
    target = tmp_path / "list.xlsx"
    target.write_bytes(b"old")
    target.chmod(0o600)
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new" and stat.S_IMODE(target.stat().st_mode) == 0o644
