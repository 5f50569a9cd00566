"""Shot setup, layout publishing (the .blend, its camera as FBX + Alembic), camera import, recognition."""

from __future__ import annotations

import os
import tempfile
from typing import Any

import bpy
from bpy.app.handlers import persistent
from bpy.props import BoolProperty, FloatProperty, StringProperty

from .. import runtime
from ..connect import props as connect_props
from ..core import pathmap
from ..i18n import iface, tip
from ..registry import ensure_online, ensure_shot_scene, register_classes, unregister_classes
from . import exports, opsdata, scene_setup
from .first_frame import first_frame_or_none


def _selected_shot_id(context: bpy.types.Context) -> str:
    return context.window_manager.aipipe.form.shot_id


def fetch_setup(shot_id: str) -> Any:
    """Worker: everything shot setup needs — project, shot, preset, the approved first frame (cached)."""
    rt = runtime.get()

    def work(ctx: Any) -> dict[str, Any]:
        client = rt.require_client()
        shot = client.get(f"/api/shots/{shot_id}")
        project = client.get(f"/api/projects/{shot['project_id']}")
        preset = client.get(f"/api/presets/{shot['preset_id']}") if shot.get("preset_id") else None
        ctx.progress(0.3, "first frame")
        image = None
        first = first_frame_or_none(client, shot_id)
        if first is not None:
            file = first["file"]
            image = os.path.join(rt.cache_dir, "first_frames", f"{file['sha256'][:16]}_{file['name']}")
            if not os.path.exists(image):
                client.download(
                    file["url"], image, lambda done, total: ctx.progress(0.3 + 0.7 * done / max(total, 1))
                )
        return {"shot": shot, "project": project, "preset": preset, "first_frame": image}

    return work


class AIPIPE_OT_layout_setup_shot(bpy.types.Operator):
    """Create or update the shot's layout scene: frame range, fps, resolution, camera and first-frame guide"""

    bl_idname = "aipipe.layout_setup_shot"
    bl_label = "Set up shot"
    bl_options = {"REGISTER"}  # no UNDO: the change lands later and pushes its own step (undo.py)

    shot_id: StringProperty(options={"SKIP_SAVE"})  # type: ignore[valid-type]
    background_alpha: FloatProperty(name="Guide opacity", default=0.5, min=0.0, max=1.0)  # type: ignore[valid-type]
    background_in_front: BoolProperty(name="Guide in front")  # type: ignore[valid-type]
    reference_plane: BoolProperty(name="Reference plane")  # type: ignore[valid-type]

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if not ensure_online(cls, context):
            return False
        if not _selected_shot_id(context):
            cls.poll_message_set(tip("Pick a shot in the Shots panel first"))
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        rt = runtime.get()
        shot_id = self.shot_id or _selected_shot_id(context)
        options = scene_setup.SetupOptions(
            self.background_alpha, self.background_in_front, self.reference_plane
        )

        def apply(data: dict[str, Any]) -> None:
            scene = scene_setup.setup_scene(
                data["project"], data["shot"], data["preset"], data["first_frame"], options
            )
            text = (
                "Scene {scene} ready"
                if data["first_frame"]
                else "Scene {scene} ready (no approved first frame yet)"
            )
            rt.report(iface(text, scene=scene.name))

        rt.run("Setting up shot", fetch_setup(shot_id), apply, undo=self.bl_label, long=True)
        return {"FINISHED"}


class AIPIPE_OT_layout_publish(bpy.types.Operator):
    """Publish this layout as the shot's next layout version: the .blend, the camera as FBX, Alembic and its per-frame JSON, the characters as Alembic and FBX"""  # noqa: E501 (a tooltip)

    bl_idname = "aipipe.layout_publish"
    bl_label = "Publish layout"
    bl_options = {"REGISTER"}

    comment: StringProperty(name="Comment", options={"SKIP_SAVE"})  # type: ignore[valid-type]
    with_camera: BoolProperty(name="Camera as FBX and Alembic", default=True)  # type: ignore[valid-type]
    with_characters: BoolProperty(  # type: ignore[valid-type]
        name="Characters as Alembic and FBX",
        description="The armatures (with what they carry) and proxies, animated, for the render to follow",
        default=True,
    )

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return ensure_shot_scene(cls, context)

    def execute(self, context: bpy.types.Context) -> set[str]:
        rt = runtime.get()
        scene = context.scene
        shot = scene.aipipe_shot
        staging = tempfile.mkdtemp(prefix="aipipe-layout-")
        stem = f"{shot.shot_code}_layout"
        files = []
        if self.with_camera and scene.camera is not None:
            try:
                files += scene_setup.export_camera(scene, staging, stem)
                files.append(exports.write_camera_track(scene, staging, f"{stem}_camera"))
            except (RuntimeError, ValueError) as exc:
                self.report({"ERROR"}, iface("Camera export failed: {error}", error=exc))
                return {"CANCELLED"}
        if self.with_characters:
            try:
                files += exports.export_characters(scene, staging, f"{stem}_characters")
            except (RuntimeError, ValueError) as exc:
                self.report({"ERROR"}, iface("Character export failed: {error}", error=exc))
                return {"CANCELLED"}
        blend = os.path.join(staging, f"{stem}.blend")
        bpy.ops.wm.save_as_mainfile(filepath=blend, copy=True)
        files.insert(0, blend)
        shot_id, code, comment = shot.shot_id, shot.shot_code, self.comment

        def upload(ctx: Any) -> dict[str, Any]:
            fields = {"stage": "layout", "rename": "true", "comment": comment}
            progress = lambda done, total: ctx.progress(done / max(total, 1), "uploading")  # noqa: E731
            return rt.require_client().upload(f"/api/shots/{shot_id}/versions", fields, files, progress)

        def published(version: dict[str, Any]) -> None:
            work = save_work_file(version)
            where = iface("; working file {path}", path=work) if work else ""
            blend = next((f for f in version["files"] if f["name"].endswith(".blend")), None)
            mounted = mounted_path(blend["path"] if blend else version["path"])
            if mounted:
                where += iface("; in the tree at {path}", path=mounted)
            rt.report(iface("{shot} layout {version} published", shot=code, version=version["code"]) + where)

        rt.run(iface("Publishing {shot} layout", shot=code), upload, published, long=True)
        return {"FINISHED"}


def mounted_path(relative: str) -> str | None:
    """Where a storage-relative path is on this workstation, when the storage root is mounted here."""
    storage = runtime.get().extras.get("storage") or {}
    mappings = connect_props.mappings() + list(storage.get("mappings") or [])
    try:
        return pathmap.to_local(relative, mappings, exists=os.path.isdir)
    except ValueError:
        return None


def save_work_file(version: dict[str, Any]) -> str | None:
    """Keep working in a file named by the naming engine, under the work folder (mirrors the tree)."""
    blend = next((f for f in version["files"] if f["name"].endswith(".blend")), None)
    if blend is None:
        return None
    target = os.path.join(connect_props.work_root(), *blend["path"].split("/"))
    os.makedirs(os.path.dirname(target), exist_ok=True)
    bpy.ops.wm.save_as_mainfile(filepath=target)
    return target


class AIPIPE_OT_layout_camera_export(bpy.types.Operator):
    """Export the scene camera as FBX and Alembic into a folder"""

    bl_idname = "aipipe.layout_camera_export"
    bl_label = "Export camera"

    directory: StringProperty(subtype="DIR_PATH")  # type: ignore[valid-type]

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if context.scene.camera is None:
            cls.poll_message_set(tip("The scene has no camera"))
            return False
        return True

    def invoke(self, context: bpy.types.Context, event: Any) -> set[str]:
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        stem = context.scene.aipipe_shot.shot_code or context.scene.camera.name
        written = scene_setup.export_camera(context.scene, bpy.path.abspath(self.directory), f"{stem}_camera")
        self.report({"INFO"}, "Wrote " + ", ".join(os.path.basename(p) for p in written))
        return {"FINISHED"}


class AIPIPE_OT_layout_camera_import(bpy.types.Operator):
    """Import a camera from an FBX or Alembic file as the scene camera"""

    bl_idname = "aipipe.layout_camera_import"
    bl_label = "Import camera"
    bl_options = {"REGISTER", "UNDO"}

    filepath: StringProperty(subtype="FILE_PATH")  # type: ignore[valid-type]
    filter_glob: StringProperty(default="*.fbx;*.abc", options={"HIDDEN"})  # type: ignore[valid-type]

    def invoke(self, context: bpy.types.Context, event: Any) -> set[str]:
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        try:
            camera = scene_setup.import_camera(context.scene, bpy.path.abspath(self.filepath))
        except (ValueError, RuntimeError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, iface("Camera {camera} is now the scene camera", camera=camera.name))
        return {"FINISHED"}


class AIPIPE_OT_layout_characters_import(bpy.types.Operator):
    """Import animated characters (a layout's Alembic or FBX) into a collection of their own"""

    bl_idname = "aipipe.layout_characters_import"
    bl_label = "Import characters"
    bl_options = {"REGISTER", "UNDO"}

    filepath: StringProperty(subtype="FILE_PATH")  # type: ignore[valid-type]
    filter_glob: StringProperty(default="*.abc;*.fbx", options={"HIDDEN"})  # type: ignore[valid-type]

    def invoke(self, context: bpy.types.Context, event: Any) -> set[str]:
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        try:
            new = exports.import_characters(context.scene, bpy.path.abspath(self.filepath))
        except (ValueError, RuntimeError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, iface("Imported {count} objects", count=len(new)))
        return {"FINISHED"}


def recognise_current_file() -> opsdata.Recognised | None:
    """Set the scene's shot from the open file's path (naming engine parse-back), if it is in the tree."""
    path = bpy.data.filepath
    if not path or not runtime.is_ready():
        return None
    rt = runtime.get()
    storage = rt.extras.get("storage") or {}
    mappings = connect_props.mappings() + list(storage.get("mappings") or [])
    try:
        found = opsdata.recognise(
            path, opsdata.templates(rt.extras.get("naming")), mappings, [connect_props.work_root()]
        )
    except ValueError:
        return None
    if found is None:
        return None
    shot = next((s for s in rt.table("shots").values() if s["code"] == found.shot_code), None)
    for scene in bpy.data.scenes:
        context = scene.aipipe_shot
        if context.shot_code and context.shot_code != found.shot_code:
            continue
        context.shot_code = found.shot_code
        if shot is not None:
            context.shot_id, context.project_id = str(shot["id"]), str(shot["project_id"])
    if shot is not None:
        state = bpy.context.window_manager.aipipe
        ids = [item.id for item in state.shots]
        if str(shot["id"]) in ids:
            state.shot_index = ids.index(str(shot["id"]))
    detail = f"{found.stage or ''} {found.version or ''}".strip()
    rt.report(iface("This file belongs to {shot} ({detail})", shot=found.shot_code, detail=detail))
    return found


@persistent
def _on_load(_filepath: Any = None) -> None:
    recognise_current_file()


CLASSES = (
    AIPIPE_OT_layout_setup_shot,
    AIPIPE_OT_layout_publish,
    AIPIPE_OT_layout_camera_export,
    AIPIPE_OT_layout_camera_import,
    AIPIPE_OT_layout_characters_import,
)


def register() -> None:
    register_classes(CLASSES)
    if _on_load not in bpy.app.handlers.load_post:
        bpy.app.handlers.load_post.append(_on_load)


def unregister() -> None:
    if _on_load in bpy.app.handlers.load_post:
        bpy.app.handlers.load_post.remove(_on_load)
    unregister_classes(CLASSES)
