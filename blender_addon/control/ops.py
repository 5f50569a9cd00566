"""Operators for control inputs: control images from the shot camera, masks on takes, character references."""

from __future__ import annotations

import os
import tempfile
from typing import Any

import bpy
from bpy.props import StringProperty

from .. import runtime
from ..i18n import iface, tip
from ..registry import ensure_online, ensure_project, ensure_shot_scene, register_classes, unregister_classes
from . import masks, opsdata, references
from .render import render_control_images

IMAGE_GLOB = "*.png;*.jpg;*.jpeg;*.webp;*.tif;*.tiff;*.exr;*.bmp"
REFERENCE_GLOB = "*.png;*.jpg;*.jpeg;*.webp"  # what the server takes as a character reference


def _state(context: bpy.types.Context) -> Any:
    return context.window_manager.aipipe_control


def _upload_version(shot_id: str, fields: dict[str, str], path: str, ctx: Any) -> dict[str, Any]:
    progress = lambda done, total: ctx.progress(done / max(total, 1), "uploading")  # noqa: E731
    return runtime.get().require_client().upload(f"/api/shots/{shot_id}/versions", fields, [path], progress)


# -- control images ------------------------------------------------------------------------------------


class AIPIPE_OT_control_render_upload(bpy.types.Operator):
    """Render a depth image, a line image and a pose image of the character rigs (the kinds picked) from the shot camera at the first frame of the cut, and upload each as a control version of the shot"""  # noqa: E501 (a tooltip)

    bl_idname = "aipipe.control_render_upload"
    bl_label = "Render and upload control images"
    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if not ensure_shot_scene(cls, context):
            return False
        if context.scene.camera is None:
            cls.poll_message_set(tip("The scene has no camera"))
            return False
        state = _state(context)
        if not (state.depth or state.canny or state.pose):
            cls.poll_message_set(tip("Pick depth, lines or pose"))
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        rt = runtime.get()
        scene = context.scene
        shot = scene.aipipe_shot
        state = _state(context)
        kinds = tuple(k for k in ("depth", "canny", "pose") if getattr(state, k))
        frame = shot.cut_in or scene.frame_current
        shot_id, code, camera = shot.shot_id, shot.shot_code, scene.camera.name
        folder = tempfile.mkdtemp(prefix="aipipe-control-")
        try:  # local work on the main thread: Blender renders there (well under a second at 1280×720)
            images = render_control_images(
                scene, folder, opsdata.control_stem(code, frame), kinds, 16 if state.depth_16bit else 8, frame
            )
        except (RuntimeError, ValueError) as exc:
            self.report({"ERROR"}, iface("Control images of {shot} failed: {error}", shot=code, error=exc))
            return {"CANCELLED"}

        def upload(ctx: Any) -> list[dict[str, Any]]:
            return [
                _upload_version(shot_id, opsdata.control_fields(kind, frame, camera), images.paths[kind], ctx)
                for kind in kinds
            ]

        def uploaded(versions: list[dict[str, Any]]) -> None:
            listed = ", ".join(f"{kind} {v['code']}" for kind, v in zip(kinds, versions, strict=True))
            text = "{shot}: control images of frame {frame} uploaded ({versions})"
            rt.report(iface(text, shot=code, frame=frame, versions=listed))

        rt.run(iface("Uploading {shot} control images", shot=code), upload, uploaded, long=True)
        return {"FINISHED"}


# -- takes and masks -----------------------------------------------------------------------------------


def load_takes(shot_id: str) -> None:
    """The shot's takes (newest first, `GET /api/shots/{id}/takes`) into the list the mask tools pick from."""
    rt = runtime.get()

    def work(_ctx: Any) -> list[dict[str, Any]]:
        listing = rt.require_client().get(f"/api/shots/{shot_id}/takes", {"limit": 100})
        return list(listing["items"])

    def apply(takes: list[dict[str, Any]]) -> None:
        state = bpy.context.window_manager.aipipe_control
        state.takes.clear()
        state.takes_shot_id = shot_id
        for take in takes:
            version = take["version"]
            item = state.takes.add()
            item.id, item.code = str(version["id"]), str(version.get("code", ""))
            item.label = opsdata.take_label(take)
        state.take_index = 0 if takes else -1

    rt.run("Loading takes", work, apply)


def _picked_take(context: bpy.types.Context) -> Any:
    state = _state(context)
    if state.takes_shot_id != context.scene.aipipe_shot.shot_id:
        return None
    if 0 <= state.take_index < len(state.takes):
        return state.takes[state.take_index]
    return None


def _ensure_take(cls: type, context: bpy.types.Context) -> bool:
    if not ensure_shot_scene(cls, context):
        return False
    if _picked_take(context) is None:
        cls.poll_message_set(tip("Load the shot's takes and pick one first"))
        return False
    return True


class AIPIPE_OT_control_takes_refresh(bpy.types.Operator):
    """Load the shot's takes (its first-frame images) to paint or upload masks for"""

    bl_idname = "aipipe.control_takes_refresh"
    bl_label = "Load takes"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return ensure_shot_scene(cls, context)

    def execute(self, context: bpy.types.Context) -> set[str]:
        load_takes(context.scene.aipipe_shot.shot_id)
        return {"FINISHED"}


class AIPIPE_OT_control_mask_new(bpy.types.Operator):
    """Make a mask image the size of the picked take, showing the take dimmed; paint white where it should be repainted"""  # noqa: E501

    bl_idname = "aipipe.control_mask_new"
    bl_label = "New mask on take"
    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _ensure_take(cls, context)

    def execute(self, context: bpy.types.Context) -> set[str]:
        rt = runtime.get()
        take = _picked_take(context)
        shot = context.scene.aipipe_shot
        take_id, take_code, shot_id, shot_code = take.id, take.code, shot.shot_id, shot.shot_code
        folder = os.path.join(rt.cache_dir, "takes")

        def fetch(ctx: Any) -> str:
            client = rt.require_client()
            version = client.get(f"/api/versions/{take_id}")
            picture = opsdata.picture_of(version)
            if picture is None:
                raise RuntimeError(iface("Take {take} has no picture", take=take_code))
            target = os.path.join(folder, opsdata.cache_name(picture))
            if not os.path.exists(target):
                client.download(picture["url"], target, lambda d, t: ctx.progress(d / max(t, 1)))
            return target

        def make(path: str) -> None:
            name = opsdata.mask_image_name(shot_code, take_code)
            mask = masks.new_mask(path, name, take_id, shot_id)
            shown = masks.show_for_painting(bpy.context, mask)
            ready = "Mask {mask} ready: paint white where {take} should be repainted"
            elsewhere = "Mask {mask} ready: open it in an Image Editor and paint white where {take} should be repainted"  # noqa: E501
            text = ready if shown else elsewhere
            rt.report(iface(text, mask=mask.name, take=take_code))

        rt.run(iface("Preparing a mask on {take}", take=take_code), fetch, make)
        return {"FINISHED"}


def _picked_image_file(operator: Any) -> str:
    """The absolute path of the image file the operator's file browser picked; "" (reported as an error)
    when it is not an image file."""
    path = bpy.path.abspath(operator.filepath)
    if not os.path.isfile(path) or not opsdata.is_image_name(path):
        operator.report({"ERROR"}, iface("{path} is not an image file", path=path))
        return ""
    return path


class AIPIPE_OT_control_mask_open(bpy.types.Operator):
    """Open a mask image file (white = repaint) for the picked take, to paint on and save as a version"""

    bl_idname = "aipipe.control_mask_open"
    bl_label = "Open mask file"
    bl_options = {"REGISTER"}

    filepath: StringProperty(subtype="FILE_PATH", options={"SKIP_SAVE"})  # type: ignore[valid-type]
    filter_glob: StringProperty(default=IMAGE_GLOB, options={"HIDDEN"})  # type: ignore[valid-type]

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _ensure_take(cls, context)

    def invoke(self, context: bpy.types.Context, event: Any) -> set[str]:
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        path = _picked_image_file(self)
        if not path:
            return {"CANCELLED"}
        take, shot = _picked_take(context), context.scene.aipipe_shot
        name = opsdata.mask_image_name(shot.shot_code, take.code)
        try:
            mask = masks.open_mask(path, name, take.id, shot.shot_id)
        except RuntimeError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        masks.show_for_painting(context, mask)
        self.report({"INFO"}, iface("Mask {mask} opened for {take}", mask=mask.name, take=take.code))
        return {"FINISHED"}


def _mask_image(context: bpy.types.Context, name: str) -> Any:
    """The named image, else the one in this Image Editor, else the newest mask image."""
    if name:
        return bpy.data.images.get(name)
    space = getattr(context, "space_data", None)
    image = getattr(space, "image", None) if space is not None and space.type == "IMAGE_EDITOR" else None
    if masks.is_mask(image):
        return image
    found = [image for image in bpy.data.images if masks.is_mask(image)]
    return found[-1] if found else None


class AIPIPE_OT_control_mask_save(bpy.types.Operator):
    """Save the painted mask (white = repaint) as a mask version of the shot, for the take it was made on"""

    bl_idname = "aipipe.control_mask_save"
    bl_label = "Save mask as version"
    bl_options = {"REGISTER"}

    image: StringProperty(name="Image", options={"SKIP_SAVE"})  # type: ignore[valid-type]
    comment: StringProperty(name="Comment", options={"SKIP_SAVE"})  # type: ignore[valid-type]

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if not ensure_online(cls, context):
            return False
        if _mask_image(context, "") is None:
            cls.poll_message_set(tip("Make a mask on a take first (New mask on take)"))
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        rt = runtime.get()
        image = _mask_image(context, self.image)
        if not masks.is_mask(image):
            self.report({"ERROR"}, iface("{image} is not a mask made on a take", image=self.image))
            return {"CANCELLED"}
        take_id, shot_id = masks.take_of(image)
        folder = tempfile.mkdtemp(prefix="aipipe-mask-")
        path = masks.save_mask(image, os.path.join(folder, f"{image.name}.png"))
        name, fields = image.name, opsdata.mask_fields(take_id, self.comment)

        def uploaded(version: dict[str, Any]) -> None:
            rt.report(iface("{mask} saved as mask version {version}", mask=name, version=version["code"]))

        rt.run(
            iface("Uploading mask {mask}", mask=name),
            lambda ctx: _upload_version(shot_id, fields, path, ctx),
            uploaded,
            long=True,
        )
        return {"FINISHED"}


class AIPIPE_OT_control_mask_upload_file(bpy.types.Operator):
    """Upload a mask image file (white = repaint) as a mask version of the shot, for the picked take"""

    bl_idname = "aipipe.control_mask_upload_file"
    bl_label = "Upload mask file"
    bl_options = {"REGISTER"}

    filepath: StringProperty(subtype="FILE_PATH", options={"SKIP_SAVE"})  # type: ignore[valid-type]
    filter_glob: StringProperty(default=IMAGE_GLOB, options={"HIDDEN"})  # type: ignore[valid-type]

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _ensure_take(cls, context)

    def invoke(self, context: bpy.types.Context, event: Any) -> set[str]:
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        rt = runtime.get()
        path = _picked_image_file(self)
        if not path:
            return {"CANCELLED"}
        take = _picked_take(context)
        shot_id, take_code, fields = (
            context.scene.aipipe_shot.shot_id,
            take.code,
            opsdata.mask_fields(take.id),
        )

        def uploaded(version: dict[str, Any]) -> None:
            text = "{file} uploaded as mask version {version} of {take}"
            rt.report(iface(text, file=os.path.basename(path), version=version["code"], take=take_code))

        rt.run(
            iface("Uploading mask {mask}", mask=os.path.basename(path)),
            lambda ctx: _upload_version(shot_id, fields, path, ctx),
            uploaded,
            long=True,
        )
        return {"FINISHED"}


# -- character references ------------------------------------------------------------------------------


def _picked_character(context: bpy.types.Context) -> str:
    value = _state(context).character
    return "" if value in ("", "NONE") else value


def _ensure_character(cls: type, context: bpy.types.Context) -> bool:
    if not ensure_project(cls, context):
        return False
    if not _picked_character(context):
        cls.poll_message_set(tip("Pick a character first"))
        return False
    return True


class AIPIPE_OT_control_references_refresh(bpy.types.Operator):
    """List the picked character's reference images again"""

    bl_idname = "aipipe.control_references_refresh"
    bl_label = "Reload references"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _ensure_character(cls, context)

    def execute(self, context: bpy.types.Context) -> set[str]:
        references.load(_picked_character(context))
        return {"FINISHED"}


class AIPIPE_OT_control_reference_add(bpy.types.Operator):
    """Upload an image file as a reference image of the picked character"""

    bl_idname = "aipipe.control_reference_add"
    bl_label = "Add reference image"
    bl_options = {"REGISTER"}

    filepath: StringProperty(subtype="FILE_PATH", options={"SKIP_SAVE"})  # type: ignore[valid-type]
    filter_glob: StringProperty(default=REFERENCE_GLOB, options={"HIDDEN"})  # type: ignore[valid-type]

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _ensure_character(cls, context)

    def invoke(self, context: bpy.types.Context, event: Any) -> set[str]:
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        path = _picked_image_file(self)
        if not path:
            return {"CANCELLED"}
        references.upload(_picked_character(context), path)
        return {"FINISHED"}


class AIPIPE_OT_control_reference_remove(bpy.types.Operator):
    """Remove this reference image from the character"""

    bl_idname = "aipipe.control_reference_remove"
    bl_label = "Remove reference image"
    bl_options = {"REGISTER"}

    reference_id: StringProperty(options={"SKIP_SAVE", "HIDDEN"})  # type: ignore[valid-type]

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _ensure_character(cls, context)

    def invoke(self, context: bpy.types.Context, event: Any) -> set[str]:
        return context.window_manager.invoke_confirm(self, event)

    def execute(self, context: bpy.types.Context) -> set[str]:
        if self.reference_id not in references.records():
            self.report({"ERROR"}, tip("Pick a reference image of this character"))
            return {"CANCELLED"}
        references.remove(_picked_character(context), self.reference_id)
        return {"FINISHED"}


CLASSES = (
    AIPIPE_OT_control_render_upload,
    AIPIPE_OT_control_takes_refresh,
    AIPIPE_OT_control_mask_new,
    AIPIPE_OT_control_mask_open,
    AIPIPE_OT_control_mask_save,
    AIPIPE_OT_control_mask_upload_file,
    AIPIPE_OT_control_references_refresh,
    AIPIPE_OT_control_reference_add,
    AIPIPE_OT_control_reference_remove,
)


def register() -> None:
    register_classes(CLASSES)


def unregister() -> None:
    unregister_classes(CLASSES)
