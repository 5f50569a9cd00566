"""Shot-list operators: export the list to a file, preview an edited file's diff, apply the ticked changes.
The server reads and validates the file; network calls run on the add-on's worker, never on Blender's main
thread."""

from __future__ import annotations

import json
import os
from typing import Any

import bpy

from .. import runtime
from ..i18n import iface, tip
from ..registry import ensure_project, register_classes, unregister_classes
from . import core

PREVIEW = "shotlist_preview"  # runtime.extras key: the server's last preview
# The fields of a diff line the panel's rows keep (and give back to `core.DiffLine` when applying).
LINE_FIELDS = ("key", "row", "code", "action", "field", "old", "new", "server", "conflict")


def show_preview(path: str, preview: dict[str, Any]) -> None:
    """Keep the preview and mirror it into the panel's lines (main thread)."""
    runtime.get().extras[PREVIEW] = preview
    state = bpy.context.window_manager.aipipe_shotlist
    state.previewed = path
    state.summary = core.summary(preview)
    state.problems = "\n".join(core.problems(preview))
    state.can_apply = bool(preview.get("can_apply"))
    state.lines.clear()
    for line in core.lines(preview):
        item = state.lines.add()
        for name in LINE_FIELDS:
            setattr(item, name, getattr(line, name))
        item.label = line.label
        item.use = line.use_default


def ticked_lines(state: Any) -> list[tuple[core.DiffLine, bool]]:
    return [
        (core.DiffLine(**{n: getattr(item, n) for n in LINE_FIELDS}), bool(item.use)) for item in state.lines
    ]


class AIPIPE_OT_shotlist_export(bpy.types.Operator):
    """Export the project's shot list (or environments, characters, specs) to a file for Excel"""

    bl_idname = "aipipe.shotlist_export"
    bl_label = "Export shot list"
    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context: Any) -> bool:
        return ensure_project(cls, context)

    def execute(self, context: Any) -> set[str]:
        state = context.window_manager.aipipe_shotlist
        folder = bpy.path.abspath(state.export_folder or "//")
        if not folder or not os.path.isdir(folder):
            self.report(
                {"ERROR"},
                iface(
                    "Export folder '{folder}' does not exist (save the file first?)",
                    folder=state.export_folder,
                ),
            )
            return {"CANCELLED"}
        rt = runtime.get()
        project_id, kind, fmt = runtime.current_project_id(), state.export_kind, state.export_format

        def work(_ctx: Any) -> str:
            client = rt.require_client()
            code = client.get(f"/api/projects/{project_id}")["code"]
            url = f"/api/projects/{project_id}/shotlist/export?kind={kind}&format={fmt}"
            return client.download(url, core.export_path(folder, code, kind, fmt))

        rt.run(
            "Exporting the shot list",
            work,
            lambda path: rt.report(iface("Shot list written to {path}", path=path)),
        )
        return {"FINISHED"}


class AIPIPE_OT_shotlist_preview(bpy.types.Operator):
    """Send the edited file to the server and show what importing it would change (nothing changes yet)"""

    bl_idname = "aipipe.shotlist_preview"
    bl_label = "Preview import"
    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context: Any) -> bool:
        if not ensure_project(cls, context):
            return False
        if not context.window_manager.aipipe_shotlist.file_path:
            cls.poll_message_set(tip("Choose the edited shot list file"))
            return False
        return True

    def execute(self, context: Any) -> set[str]:
        path = bpy.path.abspath(context.window_manager.aipipe_shotlist.file_path)
        if not os.path.isfile(path):
            self.report({"ERROR"}, iface("{path} is not a file", path=path))
            return {"CANCELLED"}
        rt = runtime.get()
        endpoint = f"/api/projects/{runtime.current_project_id()}/shotlist/import"

        def done(preview: dict[str, Any]) -> None:
            show_preview(path, preview)
            rt.report(
                iface("{file}: {summary}", file=os.path.basename(path), summary=core.summary(preview)),
                "INFO" if preview["can_apply"] else "ERROR",
            )

        def upload(ctx: Any) -> dict[str, Any]:
            progress = lambda sent, total: ctx.progress(sent / max(total, 1), "uploading")  # noqa: E731
            return rt.require_client().upload(endpoint, {}, [path], progress)

        rt.run("Reading the shot list", upload, done, long=True)
        return {"FINISHED"}


class AIPIPE_OT_shotlist_apply(bpy.types.Operator):
    """Apply the ticked changes of the previewed file, all in one transaction (one undo step on the server)"""

    bl_idname = "aipipe.shotlist_apply"
    bl_label = "Apply ticked changes"
    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context: Any) -> bool:
        if not ensure_project(cls, context):
            return False
        state = context.window_manager.aipipe_shotlist
        if not state.previewed:
            cls.poll_message_set(tip("Preview the file first"))
            return False
        if not state.can_apply:
            cls.poll_message_set(tip("The file has errors; fix them and preview again"))
            return False
        if not any(line.use for line in state.lines):
            cls.poll_message_set(tip("Tick the changes to apply"))
            return False
        return True

    def execute(self, context: Any) -> set[str]:
        state = context.window_manager.aipipe_shotlist
        path = state.previewed
        chosen = json.dumps(core.selection(ticked_lines(state)))
        rt = runtime.get()
        project_id = runtime.current_project_id()
        endpoint = f"/api/projects/{project_id}/shotlist/apply"

        def work(_ctx: Any) -> dict[str, Any]:
            client = rt.require_client()
            applied = client.upload(endpoint, {"selection": chosen}, [path])
            again = client.upload(f"/api/projects/{project_id}/shotlist/import", {}, [path])
            return {"applied": applied, "preview": again}

        def done(result: dict[str, Any]) -> None:
            counts = {k: len(v) for k, v in result["applied"]["applied"].items()}
            show_preview(path, result["preview"])
            rt.report(
                iface(
                    "Applied: {created} new, {updated} changed, {removed} removed (change set {change_set})",
                    created=counts["created"],
                    updated=counts["updated"],
                    removed=counts["removed"],
                    change_set=result["applied"]["change_set_id"],
                )
            )

        rt.run("Applying the shot list", work, done, long=True)
        return {"FINISHED"}


CLASSES = (AIPIPE_OT_shotlist_export, AIPIPE_OT_shotlist_preview, AIPIPE_OT_shotlist_apply)


def register() -> None:
    register_classes(CLASSES)


def unregister() -> None:
    unregister_classes(CLASSES)
