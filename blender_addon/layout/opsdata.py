"""Pure helpers for shot setup (no bpy): frame ranges, Blender's fps pair, layout paths, file recognition."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..core import pathmap
from ..shared import naming

NamingError, TemplateSet = naming.NamingError, naming.TemplateSet
default_template_set = naming.default_template_set

SHOT_START = 1001  # first frame of the cut, the usual VFX convention (handles come before it)


@dataclass(frozen=True)
class FrameRange:
    first: int  # scene.frame_start: the head handle included
    cut_in: int
    cut_out: int
    last: int  # scene.frame_end: the tail handle included

    @property
    def duration(self) -> int:
        return self.cut_out - self.cut_in + 1


def frame_range(duration: int, handle_in: int, handle_out: int, start: int = SHOT_START) -> FrameRange:
    """The cut starts at `start`; the handles extend the scene before and after it."""
    if duration < 1:
        raise ValueError(f"duration_frames must be at least 1, got {duration}")
    cut_out = start + duration - 1
    return FrameRange(start - handle_in, start, cut_out, cut_out + handle_out)


def handles(shot: Mapping[str, Any], project: Mapping[str, Any]) -> tuple[int, int]:
    """The shot's own handles, else the project's."""
    head = shot.get("handle_in")
    tail = shot.get("handle_out")
    return (
        int(project.get("handle_in") or 0) if head is None else int(head),
        int(project.get("handle_out") or 0) if tail is None else int(tail),
    )


def blender_fps(fps_num: int, fps_den: int) -> tuple[int, float]:
    """Blender's (fps, fps_base) for an exact rate: 24000/1001 -> (24, 1.001), 25/1 -> (25, 1.0)."""
    if fps_num <= 0 or fps_den <= 0:
        raise ValueError(f"frame rate {fps_num}/{fps_den} is not positive")
    fps = max(1, round(fps_num / fps_den))
    return fps, fps * fps_den / fps_num


def templates(naming: Mapping[str, str] | None) -> TemplateSet:
    """The project's templates as the server sent them, else the defaults."""
    return TemplateSet(naming) if naming else default_template_set()


def code_number(ts: TemplateSet, template: str, code: str, field: str) -> int:
    found = ts.template(template).match(code)
    if found is None or field not in found.fields:
        raise NamingError(f"code {code!r} does not follow the {template} template {ts[template]!r}")
    return int(found.fields[field])


def layout_file(
    ts: TemplateSet,
    project: Mapping[str, Any],
    scene_code: str,
    shot_code: str,
    version: int,
    ext: str = "blend",
    stage: str = "layout",
) -> str:
    """`<project>/scenes/SCN_010/shots/SHT_0010/layout/v003/SHT_0010_layout_v003.blend` (storage-relative)."""
    return ts.build(
        "version_file",
        project=project.get("storage_root") or project["code"],
        scene=code_number(ts, "scene_code", scene_code, "scene"),
        shot=code_number(ts, "shot_code", shot_code, "shot"),
        stage=stage,
        version=version,
        ext=ext,
    )


@dataclass(frozen=True)
class Recognised:
    shot_code: str
    stage: str | None
    version: int | None
    relative: str


def recognise(
    path: str, ts: TemplateSet, mappings: Sequence[Mapping[str, str]], extra_roots: Sequence[str] = ()
) -> Recognised | None:
    """Which shot a file belongs to, from its path under a mapped storage root or a work root."""
    relative = pathmap.to_relative(path, mappings)
    if relative is None:
        for root in extra_roots:
            relative = pathmap.to_relative(path, [{pathmap.current_platform(): root}])
            if relative is not None:
                break
    if not relative:
        return None
    match = ts.identify(relative)
    if match is None or "shot" not in match.fields:
        return None
    fields = match.fields
    shot_code = ts.build("shot_code", shot=fields["shot"])
    version = fields.get("version")
    return Recognised(shot_code, fields.get("stage"), int(version) if version is not None else None, relative)  # type: ignore[arg-type]


def next_number(versions: Sequence[Mapping[str, Any]]) -> int:
    return max((int(v.get("number", 0)) for v in versions), default=0) + 1
