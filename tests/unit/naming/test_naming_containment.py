"""Containment: no path produced or accepted by the naming engine lies outside the storage root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from aipipe_shared.naming import (
    PathOutsideRootError,
    default_template_set,
    relative_to_root,
    resolve_inside,
)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    storage = tmp_path / "storage"
    (storage / "MyProject" / "scenes").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    return storage


def test_resolve_inside_returns_the_real_path_under_the_root(root: Path) -> None:
    resolved = resolve_inside(root, "MyProject/scenes/SCN_001")
    assert resolved == os.path.join(os.path.realpath(root), "MyProject", "scenes", "SCN_001")


@pytest.mark.parametrize(
    "relative",
    [
        "..",
        "../outside",
        "MyProject/../../outside",
        "MyProject\\..\\..\\outside",
        "/etc/passwd",
        "\\etc",
        "C:\\x",
    ],
)
def test_resolve_inside_refuses_climbing_and_absolute_paths(root: Path, relative: str) -> None:
    with pytest.raises(PathOutsideRootError):
        resolve_inside(root, relative)


def test_resolve_inside_refuses_a_symlink_that_escapes_the_root(root: Path) -> None:
    (root / "MyProject" / "escape").symlink_to(root.parent / "outside", target_is_directory=True)
    with pytest.raises(PathOutsideRootError, match="symbolic link"):
        resolve_inside(root, "MyProject/escape/secret.txt")


def test_resolve_inside_follows_a_symlink_that_stays_inside(root: Path) -> None:
    (root / "MyProject" / "current").symlink_to(root / "MyProject" / "scenes", target_is_directory=True)
    assert resolve_inside(root, "MyProject/current") == os.path.realpath(root / "MyProject" / "scenes")


def test_relative_to_root_accepts_an_absolute_path_inside(root: Path) -> None:
    assert relative_to_root(root, root / "MyProject" / "scenes") == "MyProject/scenes"


def test_relative_to_root_refuses_an_absolute_path_outside(root: Path) -> None:
    with pytest.raises(PathOutsideRootError):
        relative_to_root(root, root.parent / "outside" / "x.blend")


def test_parse_refuses_paths_outside_the_root(root: Path) -> None:
    templates = default_template_set()
    with pytest.raises(PathOutsideRootError):
        templates.parse("project_dir", "../MyProject")
    with pytest.raises(PathOutsideRootError):
        templates.parse("project_dir", "/MyProject")
    with pytest.raises(PathOutsideRootError):
        templates.parse("project_dir", root.parent / "outside", root=root)


def test_parse_refuses_an_absolute_path_without_a_root() -> None:
    with pytest.raises(PathOutsideRootError, match="absolute"):
        default_template_set().parse("project_dir", "/srv/projects/MyProject")


def test_identify_reads_an_absolute_blend_path_under_the_root(root: Path) -> None:
    templates = default_template_set()
    relative = templates.build(
        "version_file", project="MyProject", scene=1, shot=10, stage="layout", version=2, ext="blend"
    )
    blend = root / relative
    blend.parent.mkdir(parents=True)
    blend.write_bytes(b"BLENDER")
    found = templates.identify(blend, root=root)
    assert found is not None
    assert found.name == "version_file"
    assert found.fields["shot"] == 10


def test_identify_refuses_a_blend_reached_through_an_escaping_symlink(root: Path) -> None:
    outside = root.parent / "outside" / "SCN_001"
    outside.mkdir()
    (outside / "SHT_0010_layout_v001.blend").write_bytes(b"BLENDER")
    (root / "MyProject" / "scenes" / "SCN_001").symlink_to(outside, target_is_directory=True)
    with pytest.raises(PathOutsideRootError):
        default_template_set().identify(
            root / "MyProject" / "scenes" / "SCN_001" / "SHT_0010_layout_v001.blend", root=root
        )
