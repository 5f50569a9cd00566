"""Build edit and Update media: lay the project's shots out in the VSE, and keep their media current."""

from __future__ import annotations

from typing import Any

import bpy
from bpy.props import BoolProperty

from .. import runtime
from ..i18n import iface
from ..registry import ensure_project, register_classes, unregister_classes
from ..shared import editorial as core
from . import vse
from .fetch import fetch_edit


def apply_build(scene_name: str, data: dict[str, Any]) -> list[Any]:
    """Replace the edit's strips, sound and markers with the server's edit (main thread)."""
    scene = vse.scene_named(scene_name)
    settings = scene.aipipe_editorial
    edit = data["edit"]
    plans = core.plan_from_edit(edit, settings.start_frame)
    made = vse.build_edit(
        scene, plans, data["paths"], (edit["fps_num"], edit["fps_den"]), settings.picture_channel
    )
    left_out = ""
    try:
        vse.add_reference_audio(scene, plans, data.get("sounds") or {}, settings.audio_channel)
    except vse.NoSoundSupport as exc:
        left_out = iface("; reference sound left out: {reason}", reason=exc)
    vse.set_note_markers(scene, core.plan_markers(edit, plans))
    vse.remember_revisions(scene, {str(s["shot_id"]): int(s["revision"]) for s in edit["shots"]})
    handles = {str(s["shot_id"]): int(s["handle_in"]) for s in edit["shots"]}
    for strip in made:
        strip[vse.HANDLE_IN] = handles[str(strip[vse.SHOT_ID])]  # where a movie take of the shot starts
    settings.record_start = edit.get("record_start") or settings.record_start
    short = "".join(
        iface(
            "; {shot}: the take is {missing} frames shorter than the cut",
            shot=s[vse.CODE],
            missing=s[vse.MISSING],
        )
        for s in made
        if s.get(vse.MISSING)
    )
    runtime.get().report(
        iface("Built the edit: {shots} shots, {frames} frames", shots=len(made), frames=edit["frames"])
        + short
        + left_out,
        "WARNING" if left_out or short else "INFO",
    )
    return made


def apply_media_update(scene_name: str, data: dict[str, Any], swap: bool) -> int:
    """Flag strips whose shot now shows another version; with `swap`, put the newer media in."""
    scene = vse.scene_named(scene_name)
    by_shot = {str(s["shot_id"]): s for s in data["edit"]["shots"]}
    changed = 0
    for strip in vse.picture_strips(scene):
        shot = by_shot.get(str(strip[vse.SHOT_ID]))
        media = shot.get("media") if shot else None
        if media is None or str(media["version_id"]) == str(strip.get(vse.VERSION_ID, "")):
            vse.flag_outdated(strip, False)
            continue
        changed += 1
        if swap:
            path = data["paths"].get(str(shot["shot_id"]))
            new = vse.replace_media(
                scene,
                strip,
                path,
                media["still"],
                shot["source_in"],
                str(media["version_id"]),
                core.media_first_frame(media),
            )
            vse.flag_short(new, int(shot.get("missing_frames") or 0) if path else 0)
        else:
            vse.flag_outdated(strip, True)
    text = "{count} strips updated" if swap else "{count} strips outdated"
    runtime.get().report(iface(text, count=changed))
    return changed


class AIPIPE_OT_editorial_build(bpy.types.Operator):
    """Lay out the project's shots on the picture channel: each shot's best media, shot list lengths"""

    bl_idname = "aipipe.editorial_build"
    bl_label = "Build edit"
    bl_options = {"REGISTER"}  # no UNDO: the change lands later and pushes its own step (undo.py)

    @classmethod
    def poll(cls, context: Any) -> bool:
        return ensure_project(cls, context)

    def execute(self, context: Any) -> set[str]:
        name = context.scene.name
        runtime.get().run(
            "Building the edit",
            fetch_edit(runtime.current_project_id()),
            lambda d: apply_build(name, d),
            undo=self.bl_label,
            long=True,
        )
        return {"FINISHED"}


class AIPIPE_OT_editorial_update_media(bpy.types.Operator):
    """Check every strip against the newest media of its shot; outdated strips turn red, or are swapped"""

    bl_idname = "aipipe.editorial_update_media"
    bl_label = "Update media"
    bl_options = {"REGISTER"}  # no UNDO: the change lands later and pushes its own step (undo.py)

    swap: BoolProperty(name="Swap to the newest", default=True)  # type: ignore[valid-type]

    @classmethod
    def poll(cls, context: Any) -> bool:
        return ensure_project(cls, context)

    def execute(self, context: Any) -> set[str]:
        name, swap = context.scene.name, self.swap
        runtime.get().run(
            "Checking media",
            fetch_edit(runtime.current_project_id()),
            lambda d: apply_media_update(name, d, swap),
            undo=self.bl_label,
            long=True,
        )
        return {"FINISHED"}


CLASSES = (AIPIPE_OT_editorial_build, AIPIPE_OT_editorial_update_media)


def register() -> None:
    register_classes(CLASSES)


def unregister() -> None:
    unregister_classes(CLASSES)
