"""The default template set lays out the roadmap's production tree exactly."""

from __future__ import annotations

import pytest

from aipipe_shared.naming import (
    DEFAULT_TEMPLATES,
    FieldError,
    default_template_set,
    project_tree_dirs,
    project_tree_files,
)

STAGE_DIRS = ["comp", "final", "interp", "layout", "playblast", "previz", "render", "upscale"]


def shot_dirs(scene: str, shot: str, version: bool = False) -> list[str]:
    base = f"MyProject_2026/scenes/{scene}/shots/{shot}"
    dirs = [base]
    for stage in STAGE_DIRS:
        dirs.append(f"{base}/{stage}")
        if version:
            dirs.append(f"{base}/{stage}/v001")
    return dirs


def small_project(**options: object) -> list[str]:
    return project_tree_dirs(
        default_template_set(),
        project="MyProject_2026",
        scenes=[1, 2],
        shots=[(1, 1), (1, 2)],
        characters=["리나", "민수"],
        environments=["골목길", "옥상"],
        **options,
    )


def test_default_tree_of_a_small_project_matches_the_roadmap() -> None:
    assert small_project() == [
        "MyProject_2026",
        "MyProject_2026/assets",
        "MyProject_2026/assets/characters",
        "MyProject_2026/assets/characters/CHR_리나",
        "MyProject_2026/assets/characters/CHR_리나/lora",
        "MyProject_2026/assets/characters/CHR_리나/reference",
        "MyProject_2026/assets/characters/CHR_민수",
        "MyProject_2026/assets/characters/CHR_민수/lora",
        "MyProject_2026/assets/characters/CHR_민수/reference",
        "MyProject_2026/assets/environments",
        "MyProject_2026/assets/environments/ENV_골목길",
        "MyProject_2026/assets/environments/ENV_옥상",
        "MyProject_2026/edit",
        "MyProject_2026/edit/edl",
        "MyProject_2026/edit/proxy",
        "MyProject_2026/export",
        "MyProject_2026/export/dailies",
        "MyProject_2026/export/final",
        "MyProject_2026/scenes",
        "MyProject_2026/scenes/SCN_001",
        "MyProject_2026/scenes/SCN_001/shots",
        *shot_dirs("SCN_001", "SHT_0001"),
        *shot_dirs("SCN_001", "SHT_0002"),
        "MyProject_2026/scenes/SCN_002",
        "MyProject_2026/scenes/SCN_002/shots",
    ]


def test_first_version_adds_v001_under_every_stage() -> None:
    dirs = small_project(first_version=True)
    expected = shot_dirs("SCN_001", "SHT_0001", version=True)
    start = dirs.index(expected[0])
    assert dirs[start : start + len(expected)] == expected


def test_tree_lists_parents_before_children_without_duplicates() -> None:
    dirs = small_project()
    assert len(dirs) == len(set(dirs))
    for index, folder in enumerate(dirs):
        parent = folder.rpartition("/")[0]
        assert not parent or parent in dirs[:index]


def test_shots_bring_their_scene_folders_even_when_scenes_is_empty() -> None:
    dirs = project_tree_dirs(default_template_set(), project="P", shots=[(3, 10)])
    assert "P/scenes/SCN_003/shots/SHT_0010/render" in dirs
    assert "P/scenes/SCN_003" in dirs


def test_project_padding_flows_into_the_tree() -> None:
    templates = default_template_set({"shot_code": "SHT_{shot:04d}"})
    dirs = project_tree_dirs(templates, project="P", shots=[(1, 10), (1, 20)], stages=["layout"])
    assert [d for d in dirs if "/shots/" in d] == [
        "P/scenes/SCN_001/shots/SHT_0010",
        "P/scenes/SCN_001/shots/SHT_0010/layout",
        "P/scenes/SCN_001/shots/SHT_0020",
        "P/scenes/SCN_001/shots/SHT_0020/layout",
    ]


def test_metadata_files_of_the_tree() -> None:
    files = project_tree_files(
        default_template_set(), project="MyProject_2026", scenes=[1], shots=[(1, 1)], characters=["리나"]
    )
    assert files == [
        "MyProject_2026/assets/characters/CHR_리나/character_meta.json",
        "MyProject_2026/edit/timeline_state.json",
        "MyProject_2026/project_config.json",
        "MyProject_2026/scenes/SCN_001/scene_meta.json",
        "MyProject_2026/scenes/SCN_001/shots/SHT_0001/shot_meta.json",
    ]


def test_tree_refuses_a_character_name_that_is_a_path() -> None:
    with pytest.raises(FieldError, match="'character'"):
        project_tree_dirs(default_template_set(), project="P", characters=["../../etc"])


def test_default_templates_cannot_be_changed_by_a_caller() -> None:
    with pytest.raises(TypeError):
        DEFAULT_TEMPLATES["shot_code"] = "X{shot}"  # type: ignore[index]
