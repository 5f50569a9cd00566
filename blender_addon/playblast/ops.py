"""`aipipe.playblast_create`: render the playblast, upload it as the next version, shot to review."""

from __future__ import annotations

import os
import tempfile
from typing import Any

import bpy
from bpy.props import IntProperty, StringProperty

from .. import runtime
from ..i18n import iface, tip
from ..layout import exports
from ..registry import ensure_shot_scene, register_classes, unregister_classes
from . import opsdata
from .depth_video import DepthVideoSpec, render_depth_video
from .render import PlayblastSpec, render_playblast


def _ensure_camera_shot(cls: type, context: bpy.types.Context) -> bool:
    """The scene is a shot's and has a camera to playblast through (else the poll message says which)."""
    if not ensure_shot_scene(cls, context):
        return False
    if context.scene.camera is None:
        cls.poll_message_set(tip("The scene has no camera"))
        return False
    return True


class AIPIPE_OT_playblast_create(bpy.types.Operator):
    """Playblast the shot with burn-ins, upload it (with the camera's per-frame JSON) as the next playblast version and put the shot in review"""  # noqa: E501 (a tooltip)

    bl_idname = "aipipe.playblast_create"
    bl_label = "Playblast and upload"
    bl_options = {"REGISTER"}

    comment: StringProperty(name="Comment", options={"SKIP_SAVE"})  # type: ignore[valid-type]
    resolution_percentage: IntProperty(  # type: ignore[valid-type]
        name="Resolution %", default=100, min=10, max=100, subtype="PERCENTAGE"
    )
    thumbnail_frame: IntProperty(name="Thumbnail frame", description="0: the middle of the cut")  # type: ignore[valid-type]

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _ensure_camera_shot(cls, context)

    def execute(self, context: bpy.types.Context) -> set[str]:
        rt = runtime.get()
        scene = context.scene
        shot = scene.aipipe_shot
        shot_id, code, comment = shot.shot_id, shot.shot_code, self.comment
        cut_in, cut_out = shot.cut_in, shot.cut_out
        start, end = opsdata.playblast_range(cut_in, cut_out, scene.frame_start, scene.frame_end)
        thumb_frame = self.thumbnail_frame or (start + end) // 2
        scene_name = scene.name
        percentage = self.resolution_percentage
        artist = (rt.user or {}).get("username", "")

        def next_number(_ctx: Any) -> int:
            items = rt.require_client().get(
                f"/api/shots/{shot_id}/versions", {"stage": "playblast", "limit": 1}
            )
            return opsdata.next_number_of(items["items"])

        def render_and_upload(number: int) -> None:
            scene_: Any = bpy.data.scenes.get(scene_name)
            if scene_ is None:
                rt.report(iface("Scene {scene} is gone; playblast cancelled", scene=scene_name), "ERROR")
                return
            label = opsdata.version_label(number)
            folder = tempfile.mkdtemp(prefix="aipipe-playblast-")
            spec = PlayblastSpec(
                output=os.path.join(folder, f"{code}_playblast_{label}.mp4"),
                frame_start=start,
                frame_end=end,
                burnins=opsdata.Burnins(code, f"playblast {label}", artist),
                thumbnail=os.path.join(folder, f"{code}_playblast_{label}_thumbnail.jpg"),
                thumbnail_frame=thumb_frame,
                resolution_percentage=percentage,
            )
            try:
                result = render_playblast(scene_, spec)  # local work: Blender renders on its main thread
            except (RuntimeError, ValueError) as exc:
                rt.report(iface("Playblast of {shot} failed: {error}", shot=code, error=exc), "ERROR")
                return
            # The thumbnail goes first: the server makes the version's thumbnail from the first picture.
            files = [result.thumbnail, result.path] if result.thumbnail else [result.path]
            # The camera's per-frame focal length and transform ride along, for workflows that take motion.
            stem, first, last = f"{code}_playblast_{label}_camera", result.frame_start, result.frame_end
            files.append(exports.write_camera_track(scene_, folder, stem, first, last))
            fields = {
                "stage": "playblast",
                "comment": comment,
                **opsdata.extent_fields(result.frame_start, result.frame_end, cut_in, cut_out),
            }

            def upload(ctx: Any) -> dict[str, Any]:
                client = rt.require_client()
                progress = lambda done, total: ctx.progress(done / max(total, 1), "uploading")  # noqa: E731
                version = client.upload(f"/api/shots/{shot_id}/versions", fields, files, progress)
                # The server puts the shot in review when a playblast is published (its workflow rule).
                version["shot"] = client.get(f"/api/shots/{shot_id}")
                return version

            def uploaded(version: dict[str, Any]) -> None:
                note = (
                    ""
                    if version["number"] == number
                    else iface(" (burn-in says {label}: someone published meanwhile)", label=label)
                )
                text = "{shot} playblast {version} uploaded, {frames} frames; shot is {status}"
                rt.report(
                    iface(
                        text,
                        shot=code,
                        version=version["code"],
                        frames=result.frames,
                        status=version["shot"]["status"],
                    )
                    + note
                )

            rt.run(iface("Uploading {shot} playblast", shot=code), upload, uploaded, long=True)

        rt.run(iface("Preparing {shot} playblast", shot=code), next_number, render_and_upload)
        return {"FINISHED"}


class AIPIPE_OT_playblast_depth_video(bpy.types.Operator):
    """Render the layout's depth video (near = white) at the rate and length the video workflow needs, and upload it as the shot's control version a layout-driven render follows"""  # noqa: E501 (a tooltip)

    bl_idname = "aipipe.playblast_depth_video"
    bl_label = "Depth video for the render"
    bl_options = {"REGISTER"}

    fps: IntProperty(  # type: ignore[valid-type]
        name="Frame rate",
        description="The video workflow's rate (Wan: 16); its video loader cannot resample",
        default=16,
        min=1,
        max=120,
    )
    frames: IntProperty(  # type: ignore[valid-type]
        name="Frames",
        description="The workflow's frame count (Wan: 81); 0: as many as cover the cut",
        default=81,
        min=0,
        max=2000,
    )
    width: IntProperty(name="Width", description="0: the scene's", default=0, min=0, max=8192)  # type: ignore[valid-type]
    height: IntProperty(name="Height", description="0: the scene's", default=0, min=0, max=8192)  # type: ignore[valid-type]

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _ensure_camera_shot(cls, context)

    def execute(self, context: bpy.types.Context) -> set[str]:
        rt = runtime.get()
        scene = context.scene
        shot = scene.aipipe_shot
        shot_id, code, scene_name = shot.shot_id, shot.shot_code, scene.name
        start, end = opsdata.playblast_range(shot.cut_in, shot.cut_out, scene.frame_start, scene.frame_end)
        fps, frames = self.fps, self.frames or None
        size = (self.width, self.height) if self.width and self.height else (None, None)

        def newest_layout(_ctx: Any) -> str | None:
            items = rt.require_client().get(f"/api/shots/{shot_id}/versions", {"stage": "layout", "limit": 1})
            return str(items["items"][0]["id"]) if items["items"] else None

        def render_and_upload(layout_id: str | None) -> None:
            scene_: Any = bpy.data.scenes.get(scene_name)
            if scene_ is None:
                rt.report(iface("Scene {scene} is gone; playblast cancelled", scene=scene_name), "ERROR")
                return
            folder = tempfile.mkdtemp(prefix="aipipe-depth-video-")
            spec = DepthVideoSpec(
                os.path.join(folder, f"{code}_layout_depth_{fps}fps.mp4"),
                fps,
                frames,
                start,
                end,
                *size,
            )
            try:
                result = render_depth_video(scene_, spec)  # Blender renders on its main thread
            except (RuntimeError, ValueError) as exc:
                rt.report(iface("Depth video of {shot} failed: {error}", shot=code, error=exc), "ERROR")
                return
            fields = opsdata.depth_video_fields(scene_.camera.name, fps, result.frames, start, layout_id)

            def upload(ctx: Any) -> dict[str, Any]:
                progress = lambda done, total: ctx.progress(done / max(total, 1), "uploading")  # noqa: E731
                client = rt.require_client()
                return client.upload(f"/api/shots/{shot_id}/versions", fields, [result.path], progress)

            def uploaded(version: dict[str, Any]) -> None:
                text = "{shot} depth video {version} uploaded: {frames} frames at {fps} fps"
                rt.report(iface(text, shot=code, version=version["code"], frames=result.frames, fps=fps))

            rt.run(iface("Uploading {shot} depth video", shot=code), upload, uploaded, long=True)

        rt.run(iface("Preparing {shot} depth video", shot=code), newest_layout, render_and_upload)
        return {"FINISHED"}


CLASSES = (AIPIPE_OT_playblast_create, AIPIPE_OT_playblast_depth_video)


def register() -> None:
    register_classes(CLASSES)


def unregister() -> None:
    unregister_classes(CLASSES)
