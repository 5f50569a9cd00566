"""Movies and exchange: the server's proxy movie, a local render of what the VSE shows, and EDL / FCP 7
XML / OTIO export of the cut."""

from __future__ import annotations

import json
import os
from typing import Any

import bpy

from .. import compat, runtime
from ..i18n import iface, tip
from ..registry import ensure_project, register_classes, unregister_classes
from . import vse
from .fetch import proxy_job
from .props import session


def cut_of(scene: Any) -> list[dict[str, Any]]:
    """The VSE's picture strips as a cut for the server: shot, length, first media frame, version."""
    out = []
    for strip in vse.picture_strips(scene):
        start, end = compat.strip_range(strip)
        entry: dict[str, Any] = {"shot_id": str(strip[vse.SHOT_ID]), "frames": end - start}
        if strip.type == "MOVIE":
            entry["source_in"] = int(strip.frame_offset_start)
        elif strip.type == "IMAGE":
            entry["source_in"] = 0
        if strip.get(vse.VERSION_ID):
            entry["version_id"] = str(strip[vse.VERSION_ID])
        out.append(entry)
    return out


class AIPIPE_OT_editorial_export(bpy.types.Operator):
    """Write what the VSE shows as an EDL, FCP 7 XML or OTIO file (made by the server's OpenTimelineIO)"""

    bl_idname = "aipipe.editorial_export"
    bl_label = "Export edit"

    @classmethod
    def poll(cls, context: Any) -> bool:
        if not ensure_project(cls, context):
            return False
        if not vse.picture_strips(context.scene):
            cls.poll_message_set(tip("Build the edit first"))
            return False
        return True

    def execute(self, context: Any) -> set[str]:
        settings = context.scene.aipipe_editorial
        target = bpy.path.abspath(settings.export_path)
        body = {
            "format": settings.export_format,
            "record_start": settings.record_start,
            "cut": cut_of(context.scene),
        }
        project_id = runtime.current_project_id()
        rt = runtime.get()

        def work(_ctx: Any) -> str:
            data = rt.require_client().request("POST", f"/api/projects/{project_id}/editorial/cut", body).data
            raw = json.dumps(data, ensure_ascii=False, indent=2).encode() if isinstance(data, dict) else data
            os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
            partial = f"{target}.part"
            with open(partial, "wb") as out:
                out.write(raw)
            os.replace(partial, target)
            return target

        rt.run(
            "Exporting the edit", work, lambda path: rt.report(iface("Wrote {path}", path=path)), long=True
        )
        return {"FINISHED"}


class AIPIPE_OT_editorial_proxy(bpy.types.Operator):
    """Have the server render the proxy movie of the edit (only changed shots are encoded again)"""

    bl_idname = "aipipe.editorial_proxy"
    bl_label = "Proxy movie"

    @classmethod
    def poll(cls, context: Any) -> bool:
        return ensure_project(cls, context)

    def execute(self, context: Any) -> set[str]:
        rt = runtime.get()

        def done(render: dict[str, Any]) -> None:
            number = f"v{int(render['number']):03d}"
            text = (
                iface(
                    "Proxy {number}: {status}, {encoded} shots encoded, {reused} reused",
                    number=number,
                    status=render["status"],
                    encoded=render["encoded"],
                    reused=render["reused"],
                )
                if render["status"] == "succeeded"
                else iface(
                    "Proxy {number}: {status} {error}",
                    number=number,
                    status=render["status"],
                    error=render.get("error", ""),
                )
            )
            session().proxy_status = text
            rt.report(text, "INFO" if render["status"] == "succeeded" else "ERROR")

        rt.run("Proxy movie", proxy_job(runtime.current_project_id()), done, long=True)
        return {"FINISHED"}


def render_vse(scene: Any, target: str) -> str:
    """Render what the VSE shows (all channels, the scene's range) to an H.264 movie; settings restored."""
    saved = compat.snapshot_render_settings(scene)
    use_sequencer = scene.render.use_sequencer
    try:
        compat.set_ffmpeg_h264(scene.render)
        scene.render.use_sequencer = True
        scene.render.filepath = target
        scene.render.use_file_extension = False
        compat.ensure_sequencer_context(scene)
        bpy.ops.render.render(animation=True, scene=scene.name)
    finally:
        scene.render.use_sequencer = use_sequencer
        compat.restore_render_settings(scene, saved)
    return target


class AIPIPE_OT_editorial_render_vse(bpy.types.Operator):
    """Render what the VSE shows to a movie file"""

    bl_idname = "aipipe.editorial_render_vse"
    bl_label = "Render the edit"

    @classmethod
    def poll(cls, context: Any) -> bool:
        if context.scene.sequence_editor is None or not list(compat.vse_all_strips(context.scene)):
            cls.poll_message_set(tip("The sequencer is empty"))
            return False
        return True

    def execute(self, context: Any) -> set[str]:
        target = bpy.path.abspath(context.scene.aipipe_editorial.render_path)
        os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
        render_vse(context.scene, target)
        self.report({"INFO"}, iface("Rendered {path}", path=target))
        return {"FINISHED"}


CLASSES = (AIPIPE_OT_editorial_export, AIPIPE_OT_editorial_proxy, AIPIPE_OT_editorial_render_vse)


def register() -> None:
    register_classes(CLASSES)


def unregister() -> None:
    unregister_classes(CLASSES)
