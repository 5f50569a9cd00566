"""Pure helpers for playblasts (no bpy): the burn-in note, the frame range, the next version number, the
depth video's frames and its version fields."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class Burnins:
    """What is written on every frame (Blender's stamp adds frame number, lens, camera and date)."""

    shot: str = ""
    version: str = ""
    artist: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)

    def note(self, today: date | None = None) -> str:
        day = (today or date.today()).isoformat()
        parts = [self.shot, self.version, self.artist, day, *(f"{k}: {v}" for k, v in self.extra.items())]
        return " | ".join(p for p in parts if p)


def playblast_range(cut_in: int, cut_out: int, frame_start: int, frame_end: int) -> tuple[int, int]:
    """The cut (handles left out) when the scene knows its shot, else the scene range."""
    if cut_in and cut_out and cut_out >= cut_in:
        return cut_in, cut_out
    return frame_start, frame_end


def extent_fields(start: int, end: int, cut_in: int, cut_out: int) -> dict[str, str]:
    """What the playblast of frames `start`-`end` holds, as upload form fields: its first frame number,
    its frame count, and the handle frames around the cut (`cut_in`-`cut_out`; 0: the scene knows no
    cut, so it holds no handles), so the edit cuts it from the right frame."""
    head = max(0, cut_in - start) if cut_in else 0
    tail = max(0, end - cut_out) if cut_out else 0
    return {
        "first_frame": str(start),
        "frame_count": str(end - start + 1),
        "handle_in": str(head),
        "handle_out": str(tail),
    }


def version_label(number: int) -> str:
    return f"v{number:03d}"


def font_size(height: int) -> int:
    """Burn-in text readable at any resolution: 2.5% of the picture height, at least 12 px."""
    return max(12, round(height * 0.025))


def next_number_of(newest_first: list[Mapping[str, object]]) -> int:
    """The number the next version of a stage will most likely get (the server decides for sure)."""
    return (int(str(newest_first[0]["number"])) + 1) if newest_first else 1


def video_frames(scene_fps: float, start: int, fps: float, count: int) -> list[int]:
    """The scene frames a `count`-frame video at `fps` samples, starting at scene frame `start`: frame i shows
    the scene at time i / fps, i.e. the nearest scene frame (halves round up). At the scene's own rate that
    is every frame; 24 -> 16 fps takes 1001, 1003 (1002.5), 1004, 1006 (1005.5), ..."""
    if scene_fps <= 0 or fps <= 0 or count < 1:
        raise ValueError(f"a video needs a positive rate and frame count, got {fps} fps, {count} frames")
    step = scene_fps / fps
    return [start + math.floor(i * step + 0.5 + 1e-9) for i in range(count)]


def frames_covering(first: int, last: int, scene_fps: float, fps: float) -> int:
    """How many frames at `fps` cover the scene frames `first`-`last` (the first and last included)."""
    if last < first:
        raise ValueError(f"frame range {first}-{last} is empty")
    return math.floor((last - first) * fps / scene_fps + 1e-9) + 1


def depth_video_fields(
    camera: str, fps: int, frames: int, start: int, layout_version_id: str | None
) -> dict[str, str]:
    """Form fields of the layout's depth video as a `control` version: what the render's control-video
    check reads (provenance control_kind 'depth', layout_version_id) and how it was made."""
    provenance: dict[str, object] = {
        "control_kind": "depth",
        "video": True,
        "fps": fps,
        "frames": frames,
        "scene_frame_start": start,
        "camera": camera,
        "source": "blender",
    }
    if layout_version_id:
        provenance["layout_version_id"] = layout_version_id
    return {"stage": "control", "provenance": json.dumps(provenance)}
