"""Undo and redo of server edits from the shot panel: the shot's change history (docs/history.md), what
Undo / Redo would do, and the server's reason when it refuses (someone else changed the field since)."""

from __future__ import annotations

from typing import Any

import bpy

from .. import runtime
from ..core.client import ApiError
from ..i18n import iface, tip
from ..registry import ensure_online, register_classes, unregister_classes
from . import opsdata

HISTORY_PAGE = 50
KEY = "shot_history"  # rt.extras: {"shot_id", "items" (newest first), "refusal"}
TARGETS = {"undo": opsdata.undo_target, "redo": opsdata.redo_target}  # what each button would act on


def state() -> dict[str, Any]:
    """The history shown in the panel (empty until a shot's history has been loaded)."""
    return runtime.get().extras.setdefault(KEY, {"shot_id": "", "items": [], "refusal": ""})


def load_history(shot_id: str) -> None:
    """Fetch the shot's change sets on the worker; the panel shows them when they arrive."""
    rt = runtime.get()
    if state()["shot_id"] != shot_id:
        rt.extras[KEY] = {"shot_id": shot_id, "items": [], "refusal": ""}

    def fetch(_ctx: Any) -> list[dict[str, Any]]:
        path = f"/api/shots/{shot_id}/history"
        return rt.require_client().get(path, {"limit": HISTORY_PAGE})["items"]

    def show(items: list[dict[str, Any]]) -> None:
        if state()["shot_id"] == shot_id:  # the artist may have picked another shot meanwhile
            state()["items"] = items

    rt.run(iface("Loading history"), fetch, show)


def step(verb: str) -> None:
    """Ask the server to undo or redo the change set the panel shows; then reload the shot and history."""
    from . import ops

    rt = runtime.get()
    current = state()
    target = TARGETS[verb](current["items"])
    if target is None:
        return
    shot_id, change_id = current["shot_id"], int(target["id"])
    current["refusal"] = ""

    def send(_ctx: Any) -> dict[str, Any]:
        client = rt.require_client()
        client.request("POST", f"/api/history/{change_id}/{verb}", {})
        return client.get(f"/api/shots/{shot_id}")

    def done(shot: dict[str, Any]) -> None:
        rt.table("shots")[shot_id] = shot
        ops.fill_list()
        if ops.browser().form.shot_id == shot_id:
            ops.load_form(shot_id)  # reloads the history too
        done_text = "Undone: {change}" if verb == "undo" else "Redone: {change}"
        rt.report(iface(done_text, change=opsdata.change_summary(target)))

    def refused(exc: BaseException) -> None:
        # The server's words (English, with the blocking change set): shown as they are.
        reason = exc.message if isinstance(exc, ApiError) else str(exc)
        state()["refusal"] = reason
        load_history(shot_id)

    label = "Undoing on the server" if verb == "undo" else "Redoing on the server"
    rt.run(iface(label), send, done, refused)


class HistoryStep:
    """Mixin of the Undo / Redo on server operators; `verb` is "undo" or "redo"."""

    verb = ""
    bl_options = {"INTERNAL"}

    @classmethod
    def poll(cls, context: Any) -> bool:
        if not ensure_online(cls, context):
            return False
        current = state()
        if not current["shot_id"] or current["shot_id"] != context.window_manager.aipipe.form.shot_id:
            cls.poll_message_set(tip("Pick a shot in the list first"))
            return False
        if TARGETS[cls.verb](current["items"]) is None:
            cls.poll_message_set(tip("Nothing to undo" if cls.verb == "undo" else "Nothing to redo"))
            return False
        return True

    def execute(self, context: Any) -> set[str]:
        step(self.verb)
        return {"FINISHED"}


class AIPIPE_OT_shots_history_undo(HistoryStep, bpy.types.Operator):
    """Undo the newest server edit of this shot (refused with the reason if someone changed it since)"""

    bl_idname = "aipipe.shots_history_undo"
    bl_label = "Undo on server"
    verb = "undo"


class AIPIPE_OT_shots_history_redo(HistoryStep, bpy.types.Operator):
    """Apply again the server edit of this shot that was undone last"""

    bl_idname = "aipipe.shots_history_redo"
    bl_label = "Redo on server"
    verb = "redo"


def draw(layout: Any, wrap_width: int) -> None:
    """The panel's history box: what Undo and Redo would do, and the last refusal."""
    from ..core.textwrap import wrap

    current = state()
    box = layout.box()
    box.label(text="Server history", icon="RECOVER_LAST")
    for verb, operator in (("undo", "aipipe.shots_history_undo"), ("redo", "aipipe.shots_history_redo")):
        target = TARGETS[verb](current["items"])
        row = box.row(align=True)
        row.operator(operator, icon="LOOP_BACK" if verb == "undo" else "LOOP_FORWARDS")
        if target is not None:
            row.label(text=opsdata.change_summary(target), translate=False)
    if current["refusal"]:
        col = box.column(align=True)
        col.alert = True
        icon = "ERROR"
        for line in wrap(iface("Refused: {reason}", reason=current["refusal"]), wrap_width):
            col.label(text=line, icon=icon, translate=False)
            icon = "BLANK1"


CLASSES = (AIPIPE_OT_shots_history_undo, AIPIPE_OT_shots_history_redo)


def register() -> None:
    register_classes(CLASSES)


def unregister() -> None:
    unregister_classes(CLASSES)
