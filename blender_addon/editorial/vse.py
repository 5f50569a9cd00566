"""The edit in Blender's VSE: strips from a plan, strips back to `StripState`s, media swaps, takes.

Picture strips carry `aipipe_shot_id`, `aipipe_version_id` and `aipipe_code` as custom properties (kept in
the .blend). Stills are created against a placeholder path and then pointed at their file, so Blender does
not read 1,000 images while building (reading each file is what makes `new_image` slow); the image is read
when the frame is first shown.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

import bpy

from .. import compat
from ..shared import editorial as core

StripPlan, StripState, scene_rate = core.StripPlan, core.StripState, core.scene_rate

SHOT_ID = "aipipe_shot_id"
VERSION_ID = "aipipe_version_id"
CODE = "aipipe_code"
TAKE = "aipipe_take"
AUDIO = "aipipe_audio"
MARKERS = "aipipe_markers"  # scene: JSON list of the marker names Build edit made
OUTDATED = "aipipe_outdated"
HANDLE_IN = "aipipe_handle_in"
MEDIA_HEAD = "aipipe_media_head"  # head handle frames its movie holds: its frame 0 is 1001 less these
MEDIA_FIRST = "aipipe_media_first"  # its version's first_frame, where said: the number of its frame 0
MISSING = "aipipe_missing"  # frames the strip's movie lacks for the cut (Blender holds its last frame)
REVISIONS = "aipipe_edit_revisions"  # scene: JSON {shot id: revision when built}
PLACEHOLDER = os.path.join(os.sep, "aipipe-missing", "placeholder.png")
SLATE_COLOUR = (0.12, 0.15, 0.19)
OUTDATED_TAG = "COLOR_01"  # red in the default theme
SHORT_TAG = "COLOR_02"  # orange: the take is shorter than the cut (never a silent hold of its last frame)
CURRENT_TAG = "NONE"


def scene_named(name: str) -> Any:
    """The scene called `name`, looked up again when a result arrives (the artist may have deleted it)."""
    scene = bpy.data.scenes.get(name)
    if scene is None:
        raise RuntimeError(f"scene '{name}' is gone")
    return scene


def active_strip(context: Any) -> Any:
    """The active strip when it belongs to the edit (has a shot id), else None."""
    editor = context.scene.sequence_editor
    strip = getattr(editor, "active_strip", None) if editor else None
    return strip if strip is not None and strip.get(SHOT_ID) else None


def new_color_strip(strips: Any, name: str, channel: int, start: int, length: int) -> Any:
    """A COLOR effect strip; `new_effect` takes `frame_end` before 5.0 and `length` from 5.0."""
    if compat.IS_5:
        strip = strips.new_effect(name, "COLOR", channel=channel, frame_start=start, length=length)
    else:
        strip = strips.new_effect(name, "COLOR", channel=channel, frame_start=start, frame_end=start + length)
    strip.color = SLATE_COLOUR
    return strip


def set_scene_rate(scene: Any, fps_num: int, fps_den: int) -> None:
    scene.render.fps, scene.render.fps_base = scene_rate(fps_num, fps_den)


def picture_strips(scene: Any) -> list[Any]:
    """The edit's strips (those with a shot id, takes excluded), left to right."""
    found = [
        s for s in compat.vse_all_strips(scene) if s.get(SHOT_ID) and not s.get(TAKE) and not s.get(AUDIO)
    ]
    return sorted(found, key=lambda s: (compat.strip_range(s)[0], s.channel))


def strip_states(scene: Any) -> list[StripState]:
    states = []
    for strip in picture_strips(scene):
        start, end = compat.strip_range(strip)
        states.append(StripState(strip.name, str(strip[SHOT_ID]), start, end))
    return states


def place_strip(
    strips: Any,
    name: str,
    channel: int,
    start: int,
    length: int,
    path: str | None,
    still: bool,
    source_in: int,
    first_frame: int | None = None,
) -> Any:
    """One strip showing `path` (a still, a movie, or a slate when None) on [start, start + length).

    `first_frame` is the number its version gives the media's first frame (None: not said; its frames are
    then numbered from 1001 less the head handle), kept on the strip for the review dialog."""
    if path is None:
        return new_color_strip(strips, name, channel, start, length)
    if still:
        strip = strips.new_image(name, PLACEHOLDER, channel, start)
        strip.directory = os.path.dirname(path) + os.sep
        strip.elements[0].filename = os.path.basename(path)
        strip.frame_final_duration = length
    else:
        strip = strips.new_movie(name, path, channel, start - source_in)
        # trim the head first (content stays put), then the length; the strip keeps its channel
        strip.frame_offset_start = source_in
        strip[MEDIA_HEAD] = source_in  # kept when the editor trims the strip: the movie's own numbering
        strip.frame_final_duration = length
        if strip.channel != channel:
            strip.channel = channel
    if first_frame is not None:
        strip[MEDIA_FIRST] = int(first_frame)
    return strip


def build_edit(
    scene: Any,
    plans: Sequence[StripPlan],
    paths: Mapping[str, str | None],
    fps: tuple[int, int],
    channel: int = 2,
) -> list[Any]:
    """Replace the edit's strips with one per plan on `channel`; the scene's range and rate follow the edit.

    `paths` maps shot id -> local media file (None or missing: a colour slate named with the shot code)."""
    strips = compat.vse_strips(scene)
    for old in [s for s in compat.vse_all_strips(scene) if s.get(SHOT_ID)]:
        strips.remove(old)
    set_scene_rate(scene, *fps)
    made = []
    for plan in plans:
        path = paths.get(plan.shot_id)
        still = plan.media is not None and plan.media.kind == "image"
        first = core.media_first_frame(plan.media.file) if plan.media is not None else None
        strip = place_strip(
            strips, plan.code, channel, plan.start, plan.length, path, still, plan.source_in, first
        )
        strip[SHOT_ID] = plan.shot_id
        strip[CODE] = plan.code
        strip[VERSION_ID] = plan.media.version_id if plan.media is not None and path else ""
        flag_short(strip, plan.missing if path else 0)
        made.append(strip)
    if plans:
        scene.frame_start = plans[0].start
        scene.frame_end = plans[-1].end - 1
    return made


class NoSoundSupport(RuntimeError):
    """This Blender cannot read sound (the `bpy` module is built without Audaspace)."""


def add_reference_audio(
    scene: Any, plans: Sequence[StripPlan], sounds: Mapping[str, str | None], channel: int
) -> list[Any]:
    """Each shot's reference sound on its own channel, under its picture, cut to the shot's length."""
    strips = compat.vse_strips(scene)
    made = []
    for plan in plans:
        path = sounds.get(plan.shot_id)
        if not path:
            continue
        if not bpy.app.build_options.audaspace:
            raise NoSoundSupport("this Blender is built without sound support (Audaspace)")
        sound = strips.new_sound(f"{plan.code} audio", path, channel, plan.start)
        sound.frame_final_duration = min(plan.length, sound.frame_final_duration)
        sound[SHOT_ID], sound[CODE], sound[AUDIO] = plan.shot_id, plan.code, True
        made.append(sound)
    return made


def set_note_markers(scene: Any, markers: Sequence[tuple[int, str]]) -> None:
    """Replace the markers the last build made (the editor's own markers stay)."""
    try:
        previous = set(json.loads(scene.get(MARKERS, "[]")))
    except (ValueError, TypeError):
        previous = set()
    for marker in [m for m in scene.timeline_markers if m.name in previous]:
        scene.timeline_markers.remove(marker)
    for frame, name in markers:
        scene.timeline_markers.new(name, frame=frame)
    scene[MARKERS] = json.dumps([name for _, name in markers])


def replace_media(
    scene: Any,
    strip: Any,
    path: str | None,
    still: bool,
    source_in: int,
    version_id: str,
    first_frame: int | None = None,
) -> Any:
    """Show another version in `strip`'s place (same shot, position, length and channel); `first_frame` as
    in `place_strip`."""
    start, end = compat.strip_range(strip)
    props = {k: strip[k] for k in (SHOT_ID, CODE, TAKE, HANDLE_IN) if strip.get(k) is not None}
    name, channel = strip.name, strip.channel
    strips = compat.vse_strips(scene)
    strips.remove(strip)
    new = place_strip(strips, name, channel, start, end - start, path, still, source_in, first_frame)
    for key, value in props.items():
        new[key] = value
    new[VERSION_ID] = version_id
    new[OUTDATED] = False
    new.color_tag = CURRENT_TAG
    return new


def remember_revisions(scene: Any, revisions: Mapping[str, int]) -> None:
    """The revision of each shot as this edit last saw it (after a build or a push)."""
    scene[REVISIONS] = json.dumps(dict(revisions))


def remembered_revisions(scene: Any) -> dict[str, int]:
    try:
        return {str(k): int(v) for k, v in json.loads(scene.get(REVISIONS, "{}")).items()}
    except (ValueError, TypeError, AttributeError):
        return {}


def flag_short(strip: Any, missing: int) -> None:
    """Mark a strip whose movie has `missing` frames fewer than the cut (orange; 0 clears it)."""
    strip[MISSING] = missing
    strip.color_tag = SHORT_TAG if missing else CURRENT_TAG


def flag_outdated(strip: Any, outdated: bool) -> None:
    strip[OUTDATED] = outdated
    strip.color_tag = OUTDATED_TAG if outdated else CURRENT_TAG


def benchmark_build(count: int, stills: Sequence[os.PathLike[str] | str]) -> str:
    """Build `count` strips over local stills with `build_edit` and with a plain `new_image` loop."""
    MediaChoice = core.MediaChoice

    scene = bpy.context.scene
    plans, paths = [], {}
    for index in range(count):
        shot_id = f"shot-{index}"
        media = MediaChoice({"id": f"v{index}", "stage": "previz", "number": 1}, {}, "image")
        plans.append(StripPlan(shot_id, f"SHT_{index * 10:04d}", 1, 1 + index * 72, 72, 0, media))
        paths[shot_id] = str(stills[index % len(stills)])
    started = time.perf_counter()
    build_edit(scene, plans, paths, (24, 1))
    ours = time.perf_counter() - started
    for strip in list(compat.vse_all_strips(scene)):
        compat.vse_strips(scene).remove(strip)
    started = time.perf_counter()
    strips = compat.vse_strips(scene)
    for plan in plans:
        strips.new_image(plan.code, paths[plan.shot_id], 2, plan.start).frame_final_duration = plan.length
    plain = time.perf_counter() - started
    return (
        f"Blender {bpy.app.version_string}: {count} strips — build_edit {ours:.3f} s, "
        f"plain new_image loop {plain:.3f} s"
    )
