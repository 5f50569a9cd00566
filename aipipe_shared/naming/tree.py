"""The production tree that confirming a shot list creates: every folder, and the metadata files."""

from __future__ import annotations

from collections.abc import Iterable

from .defaults import STAGES
from .template_set import TemplateSet

_PROJECT_DIRS = (
    "project_dir",
    "characters_dir",
    "environments_dir",
    "scenes_dir",
    "edit_proxy_dir",
    "edit_edl_dir",
    "export_dailies_dir",
    "export_final_dir",
)


def project_tree_dirs(
    templates: TemplateSet,
    *,
    project: str,
    scenes: Iterable[int] = (),
    shots: Iterable[tuple[int, int]] = (),
    characters: Iterable[str] = (),
    environments: Iterable[str] = (),
    stages: Iterable[str] = STAGES,
    first_version: bool = False,
) -> list[str]:
    """Every folder of the project tree, parents first, relative to the storage root (``/``-separated).

    Scenes of `shots` are included even when missing from `scenes`. Version folders are made when a
    version is registered, unless `first_version` asks for an empty ``v001`` in every stage.
    """
    scene_list, shot_list, character_list = list(scenes), list(shots), list(characters)
    stage_list = list(stages)
    leaves = [templates.build(name, project=project) for name in _PROJECT_DIRS]
    for scene in _scenes_of(scene_list, shot_list):
        leaves.append(templates.build("shots_dir", project=project, scene=scene))
    for scene, shot in shot_list:
        leaves.append(templates.build("shot_dir", project=project, scene=scene, shot=shot))
        for stage in stage_list:
            fields = {"project": project, "scene": scene, "shot": shot, "stage": stage}
            leaves.append(templates.build("shot_stage_dir", **fields))
            if first_version:
                leaves.append(templates.build("shot_version_dir", **fields, version=1))
    for character in character_list:
        for name in ("character_lora_dir", "character_reference_dir"):
            leaves.append(templates.build(name, project=project, character=character))
    for environment in environments:
        leaves.append(templates.build("environment_dir", project=project, environment=environment))
    # A customised set may put a metadata file where no folder template reaches; its folder is needed too.
    files = project_tree_files(
        templates, project=project, scenes=scene_list, shots=shot_list, characters=character_list
    )
    folders = {ancestor for leaf in leaves for ancestor in _self_and_ancestors(leaf)}
    folders |= {ancestor for file in files for ancestor in _self_and_ancestors(file)[:-1]}
    return sorted(folders, key=lambda folder: folder.split("/"))


def project_tree_files(
    templates: TemplateSet,
    *,
    project: str,
    scenes: Iterable[int] = (),
    shots: Iterable[tuple[int, int]] = (),
    characters: Iterable[str] = (),
) -> list[str]:
    """The metadata files of the project tree (project_config.json, scene/shot/character meta, timeline)."""
    shot_list = list(shots)
    files = [
        templates.build("project_config_file", project=project),
        templates.build("timeline_state_file", project=project),
    ]
    files += [
        templates.build("scene_meta_file", project=project, scene=scene)
        for scene in _scenes_of(scenes, shot_list)
    ]
    files += [
        templates.build("shot_meta_file", project=project, scene=scene, shot=shot)
        for scene, shot in shot_list
    ]
    files += [templates.build("character_meta_file", project=project, character=name) for name in characters]
    return sorted(set(files), key=lambda file: file.split("/"))


def _scenes_of(scenes: Iterable[int], shots: list[tuple[int, int]]) -> list[int]:
    return list(dict.fromkeys([*scenes, *(scene for scene, _ in shots)]))


def _self_and_ancestors(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[: depth + 1]) for depth in range(len(parts))]
