"""Takes in the edit: step the active strip through its shot's takes, stack every take above it for
review, approve the one on screen."""

from __future__ import annotations

from typing import Any

import bpy
from bpy.props import IntProperty

from .. import compat, runtime
from ..i18n import iface, tip
from ..registry import ensure_online, ensure_project, register_classes, unregister_classes
from ..shared import editorial as core
from . import vse
from .fetch import fetch_takes


def apply_takes(scene_name: str, strip_name: str, takes: list[dict[str, Any]]) -> list[Any]:
    """Each take on its own channel above the strip, same start and length, to play against each other."""
    scene = vse.scene_named(scene_name)
    strips = compat.vse_strips(scene)
    for old in [s for s in compat.vse_all_strips(scene) if s.get(vse.TAKE)]:
        strips.remove(old)
    base = strips.get(strip_name)
    start, end = compat.strip_range(base)
    made = []
    for index, take in enumerate(takes):
        version = take["version"]
        name = f"{base[vse.CODE]} {version['stage']} v{int(version['number']):03d}"
        handle = 0 if take["still"] else int(version.get("handle_in") or 0)  # what this take's movie holds
        strip = vse.place_strip(
            strips,
            name,
            base.channel + 1 + index,
            start,
            end - start,
            take["path"],
            take["still"],
            handle,
            core.media_first_frame(version),
        )
        strip[vse.TAKE] = True
        strip[vse.SHOT_ID] = base[vse.SHOT_ID]
        strip[vse.CODE] = base[vse.CODE]
        strip[vse.VERSION_ID] = str(version["id"])
        made.append(strip)
    runtime.get().report(
        iface("{count} takes of {shot} stacked above it", count=len(made), shot=base[vse.CODE])
    )
    return made


def apply_step(
    scene_name: str, strip_name: str, current: str, step: int, takes: list[dict[str, Any]]
) -> None:
    """Show the take `step` places from `current` in the strip's place (main thread)."""
    chosen = core.step_version(current, [t["version"] for t in takes], step)
    if chosen is None:
        runtime.get().report("This shot has no takes yet", "WARNING")
        return
    take = next(t for t in takes if t["version"]["id"] == chosen["id"])
    scene = vse.scene_named(scene_name)
    target = compat.vse_strips(scene).get(strip_name)
    handle = 0 if take["still"] else int(chosen.get("handle_in") or 0)  # the head handle this take holds
    first = core.media_first_frame(chosen)
    vse.replace_media(scene, target, take["path"], take["still"], handle, str(chosen["id"]), first)
    runtime.get().report(
        iface(
            "{strip}: {stage} v{number}",
            strip=strip_name,
            stage=chosen["stage"],
            number=f"{int(chosen['number']):03d}",
        )
    )


class AIPIPE_OT_editorial_step_version(bpy.types.Operator):
    """Show the next (or previous) take of the active strip's shot in its place"""

    bl_idname = "aipipe.editorial_step_version"
    bl_label = "Step version"
    bl_options = {"REGISTER"}  # no UNDO: the change lands later and pushes its own step (undo.py)

    step: IntProperty(default=1)  # type: ignore[valid-type]

    @classmethod
    def poll(cls, context: Any) -> bool:
        if not ensure_project(cls, context):
            return False
        if vse.active_strip(context) is None:
            cls.poll_message_set(tip("Select a strip of the edit first"))
            return False
        return True

    def execute(self, context: Any) -> set[str]:
        strip = vse.active_strip(context)
        scene_name, strip_name, step = context.scene.name, strip.name, self.step
        current = str(strip.get(vse.VERSION_ID, ""))
        runtime.get().run(
            "Loading takes",
            fetch_takes(str(strip[vse.SHOT_ID])),
            lambda takes: apply_step(scene_name, strip_name, current, step, takes),
            undo=self.bl_label,
            long=True,
        )
        return {"FINISHED"}


class AIPIPE_OT_editorial_takes(bpy.types.Operator):
    """Load every take of the active strip's shot on stacked channels above it"""

    bl_idname = "aipipe.editorial_takes"
    bl_label = "Review takes"
    bl_options = {"REGISTER"}  # no UNDO: the change lands later and pushes its own step (undo.py)

    @classmethod
    def poll(cls, context: Any) -> bool:
        return AIPIPE_OT_editorial_step_version.poll(context)

    def execute(self, context: Any) -> set[str]:
        strip = vse.active_strip(context)
        scene_name, strip_name = context.scene.name, strip.name
        runtime.get().run(
            "Loading takes",
            fetch_takes(str(strip[vse.SHOT_ID])),
            lambda takes: apply_takes(scene_name, strip_name, takes),
            undo=self.bl_label,
            long=True,
        )
        return {"FINISHED"}


class AIPIPE_OT_editorial_approve_take(bpy.types.Operator):
    """Approve the take in the active strip; the approval is recorded on the server"""

    bl_idname = "aipipe.editorial_approve_take"
    bl_label = "Approve take"

    @classmethod
    def poll(cls, context: Any) -> bool:
        if not ensure_online(cls, context):
            return False
        strip = vse.active_strip(context)
        if strip is None or not strip.get(vse.VERSION_ID):
            cls.poll_message_set(tip("Select a take (a strip that shows a version)"))
            return False
        return True

    def execute(self, context: Any) -> set[str]:
        strip = vse.active_strip(context)
        version_id, name = str(strip[vse.VERSION_ID]), strip.name
        rt = runtime.get()
        body = {"verdict": "approve", "text": "Approved in the edit"}
        rt.send(
            "Approving",
            "POST",
            f"/api/versions/{version_id}/reviews",
            body,
            lambda result: rt.report(
                iface("{strip} approved (shot is {status})", strip=name, status=result["shot_status"])
            ),
        )
        return {"FINISHED"}


CLASSES = (
    AIPIPE_OT_editorial_step_version,
    AIPIPE_OT_editorial_takes,
    AIPIPE_OT_editorial_approve_take,
)


def register() -> None:
    register_classes(CLASSES)


def unregister() -> None:
    unregister_classes(CLASSES)
