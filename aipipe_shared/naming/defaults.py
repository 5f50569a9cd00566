"""The default template set: the production tree of the roadmap, relative to the project storage root.

A project may override any template (``SHT_{shot:04d}`` for shots numbered 10, 20, ...); the rest of
the set follows through the ``{@...}`` references. Keep the names: the server, the add-on and
`project_tree_dirs` look templates up by them. Names ending in ``_dir`` or ``_file`` are paths from the
storage root (`TemplateSet.identify` tries those); ``_code`` and ``_name`` templates make a single name.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from .template_set import TemplateSet

# The stage folders a shot gets when the project is confirmed; `interp` and `upscale` hold the steps of a
# render recipe after `render` (frame interpolation, upscale), each as versions of its own.
STAGES = ("previz", "layout", "playblast", "render", "interp", "upscale", "comp", "final")

# Read-only so that no caller can change the defaults of every other caller.
DEFAULT_TEMPLATES: Mapping[str, str] = MappingProxyType(
    {
        # codes: the human names of things (the server stores them, e.g. Shot.code)
        "scene_code": "SCN_{scene:03d}",
        "shot_code": "SHT_{shot:04d}",
        "version_code": "v{version:03d}",
        "character_code": "CHR_{character}",
        "environment_code": "ENV_{environment}",
        # project
        "project_dir": "{project}",
        "project_config_file": "{@project_dir}/project_config.json",
        # scenes and shots
        "scenes_dir": "{@project_dir}/scenes",
        "scene_dir": "{@scenes_dir}/{@scene_code}",
        "scene_meta_file": "{@scene_dir}/scene_meta.json",
        "shots_dir": "{@scene_dir}/shots",
        "shot_dir": "{@shots_dir}/{@shot_code}",
        "shot_meta_file": "{@shot_dir}/shot_meta.json",
        "shot_stage_dir": "{@shot_dir}/{stage}",
        "shot_version_dir": "{@shot_stage_dir}/{@version_code}",
        # version files: SHT_010_layout_v003.blend, SHT_010_render_v001_fixed_hands.mp4
        "version_file_name": "{@shot_code}_{stage}_{@version_code}<_{comment}>.{ext}",
        "version_file": "{@shot_version_dir}/{@version_file_name}",
        # assets
        "assets_dir": "{@project_dir}/assets",
        "characters_dir": "{@assets_dir}/characters",
        "character_dir": "{@characters_dir}/{@character_code}",
        "character_lora_dir": "{@character_dir}/lora",
        "character_reference_dir": "{@character_dir}/reference",
        "character_meta_file": "{@character_dir}/character_meta.json",
        "environments_dir": "{@assets_dir}/environments",
        "environment_dir": "{@environments_dir}/{@environment_code}",
        # editorial
        "edit_dir": "{@project_dir}/edit",
        "edit_proxy_dir": "{@edit_dir}/proxy",
        "edit_edl_dir": "{@edit_dir}/edl",
        "timeline_state_file": "{@edit_dir}/timeline_state.json",
        # deliveries
        "export_dir": "{@project_dir}/export",
        "export_dailies_dir": "{@export_dir}/dailies",
        "export_final_dir": "{@export_dir}/final",
    }
)


def default_template_set(overrides: Mapping[str, str] | None = None) -> TemplateSet:
    """Return a new `TemplateSet` of the defaults, with a project's `overrides` applied."""
    return TemplateSet({**DEFAULT_TEMPLATES, **(overrides or {})})
