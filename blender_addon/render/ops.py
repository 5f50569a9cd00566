"""Send to render: pick a workflow from the server, set priority and parameters, follow the job live, load
the finished version into the scene (camera background) or the VSE."""

from __future__ import annotations

import os
from typing import Any

import bpy
from bpy.props import EnumProperty, IntProperty, StringProperty

from .. import compat, runtime
from ..i18n import iface, tip
from ..registry import ensure_online, register_properties, unregister_properties
from . import opsdata

POLL_INTERVAL_S = 2.0


def workflow_items(_self: Any, _context: Any) -> list[tuple[str, str, str]]:
    if not runtime.is_ready():
        return [("NONE", "Server default", "")]
    rt = runtime.get()
    items = [("NONE", "Server default", "The server's AIPIPE_RENDER_WORKFLOW")] + [
        (
            w["name"],
            w["title"] or w["name"],
            f"{w['job_type']}, {w['min_vram_gb']:g} GB VRAM. {w['description']}",
        )
        for w in sorted(rt.table("workflows").values(), key=lambda w: w["name"])
    ]
    rt.extras.setdefault("enum_items", {})["workflows"] = items
    return items


class AIPIPE_PG_render(bpy.types.PropertyGroup):
    workflow: EnumProperty(name="Workflow", items=workflow_items)  # type: ignore[valid-type]
    priority: IntProperty(name="Priority", default=50, min=0, max=100)  # type: ignore[valid-type]
    seed: IntProperty(name="Seed", description="0: derived from the shot", default=0, min=0)  # type: ignore[valid-type]
    params: StringProperty(name="Parameters", description='JSON overrides, e.g. {"length": 49}')  # type: ignore[valid-type]


def _shot_id(context: bpy.types.Context) -> str:
    return context.scene.aipipe_shot.shot_id or context.window_manager.aipipe.form.shot_id


def load_workflows() -> None:
    rt = runtime.get()
    rt.run(
        "Loading workflows",
        lambda _ctx: rt.require_client().get("/api/farm/workflows"),
        lambda items: rt.store("workflows", [{**w, "id": w["name"]} for w in items]),
    )


def poll_jobs() -> float | None:
    """Refresh the jobs of shots that have unfinished ones (a timer calls this; tests call it directly)."""
    if not runtime.is_online():
        return None
    rt = runtime.get()
    shots = sorted(
        {str(j["shot_id"]) for j in rt.table("jobs").values() if opsdata.is_active(j) and j.get("shot_id")}
    )
    if not shots:
        return None

    def fetch(_ctx: Any) -> list[dict[str, Any]]:
        client = rt.require_client()
        return [j for s in shots for j in client.get("/api/farm/jobs", {"shot_id": s, "limit": 50})["items"]]

    rt.run("Following render jobs", fetch, lambda jobs: rt.store("jobs", jobs, replace=False))
    return POLL_INTERVAL_S


def _follow() -> None:
    if not bpy.app.timers.is_registered(poll_jobs):
        bpy.app.timers.register(poll_jobs, first_interval=POLL_INTERVAL_S)


def _on_version(event: dict[str, Any]) -> None:
    data = event.get("data") or {}
    if any(str(j.get("shot_id")) == str(data.get("shot_id")) for j in runtime.get().table("jobs").values()):
        poll_jobs()


def _on_session(event: dict[str, Any]) -> None:
    if event.get("action") == "session.login":
        load_workflows()


class AIPIPE_OT_render_send(bpy.types.Operator):
    """Queue the shot's final AI render on the farm with the chosen workflow, priority and parameters"""

    bl_idname = "aipipe.render_send"
    bl_label = "Send to render"
    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if not ensure_online(cls, context):
            return False
        if not _shot_id(context):
            cls.poll_message_set(tip("Pick a shot, or set up this scene for one"))
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        rt = runtime.get()
        settings = context.window_manager.aipipe_render
        try:
            body = opsdata.render_body(settings.workflow, settings.priority, settings.seed, settings.params)
        except ValueError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        shot_id = _shot_id(context)

        def queued(job: dict[str, Any]) -> None:
            rt.store("jobs", [job], replace=False)
            rt.report(
                iface(
                    "Render job queued: {workflow} at priority {priority}",
                    workflow=job["workflow"],
                    priority=job["priority"],
                )
            )
            _follow()

        rt.send("Sending to render", "POST", f"/api/shots/{shot_id}/render", body, queued)
        return {"FINISHED"}


class AIPIPE_OT_render_refresh(bpy.types.Operator):
    """Reload the workflow list and this shot's render jobs"""

    bl_idname = "aipipe.render_refresh"
    bl_label = "Refresh renders"
    bl_options = {"INTERNAL"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return ensure_online(cls, context)

    def execute(self, context: bpy.types.Context) -> set[str]:
        rt = runtime.get()
        load_workflows()
        shot_id = _shot_id(context)
        if shot_id:
            rt.run(
                "Loading render jobs",
                lambda _ctx: rt.require_client().get("/api/farm/jobs", {"shot_id": shot_id, "limit": 50})[
                    "items"
                ],
                lambda jobs: rt.store("jobs", jobs, replace=False),
            )
        return {"FINISHED"}


class AIPIPE_OT_render_load_result(bpy.types.Operator):
    """Load the finished render into the sequencer, or as the camera's background"""

    bl_idname = "aipipe.render_load_result"
    bl_label = "Load render"
    bl_options = {"REGISTER"}  # no UNDO: the change lands later and pushes its own step (undo.py)

    version_id: StringProperty()  # type: ignore[valid-type]
    target: EnumProperty(  # type: ignore[valid-type]
        name="Into", items=[("VSE", "Sequencer", "A movie strip"), ("CAMERA", "Camera background", "")]
    )

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return ensure_online(cls, context)

    def execute(self, context: bpy.types.Context) -> set[str]:
        rt = runtime.get()
        scene_name, target, version_id = context.scene.name, self.target, self.version_id

        def fetch(ctx: Any) -> tuple[dict[str, Any], str]:
            client = rt.require_client()
            version = client.get(f"/api/versions/{version_id}")
            file = opsdata.media_file(version)
            if file is None:
                raise ValueError(
                    iface("Version {version} has no movie or image file", version=version["code"])
                )
            path = os.path.join(rt.cache_dir, "versions", version_id, file["name"])
            if not os.path.exists(path):
                client.download(file["url"], path, lambda d, t: ctx.progress(d / max(t, 1), "downloading"))
            return version, path

        def apply(result: tuple[dict[str, Any], str]) -> None:
            version, path = result
            scene = bpy.data.scenes[scene_name]
            name = f"{version['stage']}_{version['code']}"
            if target == "VSE":
                strip = load_into_sequencer(scene, path, name)
                rt.report(
                    iface(
                        "{name} loaded into the sequencer on channel {channel}",
                        name=name,
                        channel=strip.channel,
                    )
                )
            else:
                load_as_camera_background(scene, path)
                rt.report(iface("{name} is the camera background", name=name))

        rt.run("Loading render", fetch, apply, undo=self.bl_label, long=True)
        return {"FINISHED"}


def load_into_sequencer(scene: Any, path: str, name: str) -> Any:
    strips = compat.vse_strips(scene)
    channel = max((s.channel for s in strips), default=0) + 1
    start = scene.aipipe_shot.cut_in or scene.frame_start
    if path.lower().endswith((".png", ".jpg", ".jpeg", ".exr")):
        return strips.new_image(name, path, channel, start)
    return strips.new_movie(name, path, channel, start)


def load_as_camera_background(scene: Any, path: str) -> Any:
    if scene.camera is None:
        raise ValueError(iface("Scene {scene} has no camera", scene=scene.name))
    data = scene.camera.data
    data.show_background_images = True
    entry = data.background_images.new()
    if path.lower().endswith((".png", ".jpg", ".jpeg", ".exr")):
        entry.image = bpy.data.images.load(path, check_existing=True)
    else:
        entry.source = "MOVIE_CLIP"
        entry.clip = bpy.data.movieclips.load(path, check_existing=True)
    return entry


CLASSES = (AIPIPE_PG_render, AIPIPE_OT_render_send, AIPIPE_OT_render_refresh, AIPIPE_OT_render_load_result)


POINTERS = ((bpy.types.WindowManager, "aipipe_render", AIPIPE_PG_render),)


def register() -> None:
    register_properties(CLASSES, POINTERS)
    rt = runtime.get()
    rt.subscribe("version.created", _on_version)
    rt.subscribe("session.", _on_session)


def unregister() -> None:
    if bpy.app.timers.is_registered(poll_jobs):
        bpy.app.timers.unregister(poll_jobs)
    if runtime.is_ready():
        runtime.get().unsubscribe(_on_version)
        runtime.get().unsubscribe(_on_session)
    unregister_properties(CLASSES, POINTERS)
