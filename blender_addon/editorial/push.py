"""Push edit: read order, trims, deletions and splits from the VSE, show what they change on the server,
then apply them (a stale revision is refused, never overwritten)."""

from __future__ import annotations

from typing import Any

import bpy

from .. import compat, runtime
from ..core.client import ApiError
from ..i18n import iface, tip
from ..registry import ensure_online, ensure_project, register_classes, unregister_classes
from ..shared import editorial as core
from . import vse
from .fetch import all_shots
from .props import session


def _show(lines: list[str]) -> None:
    state = session()
    state.change_lines.clear()
    for line in lines:
        state.change_lines.add().text = line


def start_push_preview(scene_name: str, project_id: str) -> None:
    """Read the VSE, compute the change set against the server's shots, and have the server check it."""
    rt = runtime.get()
    states = vse.strip_states(vse.scene_named(scene_name))
    seen = vse.remembered_revisions(vse.scene_named(scene_name))

    def work(_ctx: Any) -> dict[str, Any]:
        client = rt.require_client()
        shots = all_shots(client, project_id)
        changes = core.change_set(shots, states, seen)
        if changes.empty:
            return {"changes": changes, "shots": shots, "preview": None}
        preview = client.request(
            "POST", f"/api/projects/{project_id}/editorial/changes", {**changes.request, "apply": False}
        ).data
        return {"changes": changes, "shots": shots, "preview": preview}

    def done(result: dict[str, Any]) -> None:
        changes: core.ChangeSet = result["changes"]
        codes = {str(s["id"]): s["code"] for s in result["shots"]}
        lines = changes.lines(codes)
        preview = result["preview"]
        if preview:
            lines += [
                iface("New shot {shot} ({frames} frames)", shot=s["code"], frames=s["duration_frames"])
                for s in preview["created"]
            ]
        _show(lines)
        rt.extras["editorial_push"] = {"project_id": project_id, "scene": scene_name, "changes": changes}
        rt.report("Push edit: check the changes, then apply" if not changes.empty else "Nothing to push")

    rt.run("Checking the edit", work, done, _push_failed)


def _push_failed(exc: BaseException) -> None:
    lines = [iface("Refused: {reason}", reason=exc)]
    if isinstance(exc, ApiError) and exc.current:
        current = exc.current
        text = (
            "{shot} changed on the server: now {frames} frames, revision {revision}. "
            "Rebuild the edit or update it, then push again."
        )
        lines.append(
            iface(
                text,
                shot=current.get("code"),
                frames=current.get("duration_frames"),
                revision=current.get("revision"),
            )
        )
    _show(lines)
    runtime.get().extras.pop("editorial_push", None)


def start_push_apply() -> None:
    """Send the checked change set; on success the strips learn their (new) shots and revisions."""
    rt = runtime.get()
    pending = rt.extras.get("editorial_push")
    if not pending:
        rt.report("Check the edit first (Push edit)", "WARNING")
        return
    changes: core.ChangeSet = pending["changes"]
    path = f"/api/projects/{pending['project_id']}/editorial/changes"

    def done(result: dict[str, Any]) -> None:
        scene = vse.scene_named(pending["scene"])
        strips = compat.vse_strips(scene)
        for name, shot in zip(changes.strips, result["shots"], strict=True):
            strip = strips.get(name)
            if strip is not None:  # a split strip now belongs to its new shot
                strip[vse.SHOT_ID], strip[vse.CODE] = str(shot["id"]), shot["code"]
        vse.remember_revisions(scene, {str(s["id"]): int(s["revision"]) for s in result["shots"]})
        rt.extras.pop("editorial_push", None)
        made, omitted = len(result["created"]), len(result["omitted"])
        text = "Applied: {shots} shots, {made} new, {omitted} omitted"
        _show([iface(text, shots=len(result["shots"]), made=made, omitted=omitted)])
        rt.report("Edit pushed")

    rt.send("Pushing the edit", "POST", path, {**changes.request, "apply": True}, done, _push_failed)


class AIPIPE_OT_editorial_push(bpy.types.Operator):
    """Read order, trims, deletions and splits from the VSE and show what they change on the server"""

    bl_idname = "aipipe.editorial_push"
    bl_label = "Push edit"

    @classmethod
    def poll(cls, context: Any) -> bool:
        return ensure_project(cls, context)

    def execute(self, context: Any) -> set[str]:
        try:
            start_push_preview(context.scene.name, runtime.current_project_id())
        except core.ChangeSetError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        return {"FINISHED"}


class AIPIPE_OT_editorial_push_apply(bpy.types.Operator):
    """Apply the checked change set; a conflict (stale revision) is refused, never overwritten"""

    bl_idname = "aipipe.editorial_push_apply"
    bl_label = "Apply changes"

    @classmethod
    def poll(cls, context: Any) -> bool:
        if not ensure_online(cls, context):
            return False
        if not runtime.get().extras.get("editorial_push"):
            cls.poll_message_set(tip("Push edit first to see the changes"))
            return False
        return True

    def execute(self, context: Any) -> set[str]:
        start_push_apply()
        return {"FINISHED"}


CLASSES = (AIPIPE_OT_editorial_push, AIPIPE_OT_editorial_push_apply)


def register() -> None:
    register_classes(CLASSES)


def unregister() -> None:
    unregister_classes(CLASSES)
