"""`aipipe.layout_build_set`: the 2.5D set from the first frame's depth (the shot's `control` version with
provenance control_kind 'depth', made from the first frame), or from local files."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import bpy
from bpy.props import EnumProperty, FloatProperty, IntProperty, StringProperty

from .. import runtime, undo
from ..i18n import iface, tip
from ..registry import register_classes, unregister_classes
from . import set25d
from .first_frame import first_frame_or_none

ENCODINGS = (
    ("depth", "Depth (Lotus)", "Near = white, the value affine in depth (Lotus depth after its invert)"),
    (
        "inverse",
        "Inverse depth",
        "Near = white, the value affine in inverse depth (MiDaS, Depth Anything, the add-on's control images)",  # noqa: E501
    ),
)


def _picture(version: Mapping[str, Any]) -> dict[str, Any] | None:
    return next((f for f in version.get("files", ()) if str(f.get("mime", "")).startswith("image/")), None)


def pick_depth(versions: list[Mapping[str, Any]], first_frame_id: str | None) -> Mapping[str, Any] | None:
    """The depth image to build from, newest first: one made from the first frame, else any depth image."""
    depths = [
        v for v in versions if (v.get("provenance") or {}).get("control_kind") == "depth" and _picture(v)
    ]
    made_from = [v for v in depths if (v.get("provenance") or {}).get("source_version_id") == first_frame_id]
    return (made_from or depths or [None])[0]


def fetch_depth(shot_id: str) -> Any:
    """Worker: download the first frame and its depth image (cached by content)."""
    rt = runtime.get()

    def work(ctx: Any) -> dict[str, Any]:
        client = rt.require_client()
        first = first_frame_or_none(client, shot_id)
        versions = client.get(f"/api/shots/{shot_id}/versions", {"stage": "control", "limit": 200})["items"]
        depth = pick_depth(versions, str(first["version"]["id"]) if first else None)
        if depth is None:
            raise ValueError(
                iface("The shot has no depth image yet: queue the first frame's depth on the farm first")
            )
        out: dict[str, Any] = {"depth_version": depth}
        for key, file in (("depth", _picture(depth)), ("picture", first["file"] if first else None)):
            if file is None:
                out[key] = None
                continue
            path = os.path.join(rt.cache_dir, "set25d", f"{file['sha256'][:16]}_{file['name']}")
            if not os.path.exists(path):
                client.download(file["url"], path, lambda done, total: ctx.progress(done / max(total, 1)))
            out[key] = path
        return out

    return work


def _local_picture(scene: Any) -> str | None:
    """The first frame already in the file: the camera's background image."""
    camera = scene.camera
    for background in getattr(camera.data, "background_images", ()) if camera is not None else ():
        image = background.image
        if image is not None and image.filepath:
            return bpy.path.abspath(image.filepath)
    return None


def _first_frame(scene: Any) -> int | None:
    """The cut's first frame (where the first frame's picture was taken), when the scene knows its shot."""
    shot = getattr(scene, "aipipe_shot", None)
    return int(shot.cut_in) if shot is not None and shot.cut_in else None


class AIPIPE_OT_layout_build_set(bpy.types.Operator):
    """Build a 2.5D set from the first frame's depth: a mesh in front of the shot camera at the picture's depth, the first frame projected on it, to block characters and props against"""  # noqa: E501 (a tooltip)

    bl_idname = "aipipe.layout_build_set"
    bl_label = "Build 2.5D set"
    bl_options = {"REGISTER"}  # the set lands later (after the download) and pushes its own undo step

    encoding: EnumProperty(name="Depth image", items=ENCODINGS, default="depth")  # type: ignore[valid-type]
    columns: IntProperty(  # type: ignore[valid-type]
        name="Detail", description="Grid quads across the frame", default=160, min=8, max=1024
    )
    tear: FloatProperty(  # type: ignore[valid-type]
        name="Split at depth jumps",
        description="Leave out faces whose far corner is this many times as deep as the near one (0: keep all)",  # noqa: E501
        default=0.0,
        min=0.0,
        max=10.0,
    )
    depth_path: StringProperty(  # type: ignore[valid-type]
        name="Depth file", description="A local depth image instead of the server's", subtype="FILE_PATH"
    )
    picture_path: StringProperty(  # type: ignore[valid-type]
        name="Picture file", description="A local first frame instead of the server's", subtype="FILE_PATH"
    )

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if context.scene.camera is None:
            cls.poll_message_set(tip("The scene has no camera"))
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        scene = context.scene
        options = set25d.SetOptions(self.encoding, self.columns, self.tear)
        if self.depth_path:
            picture = bpy.path.abspath(self.picture_path) if self.picture_path else _local_picture(scene)
            try:
                depth = bpy.path.abspath(self.depth_path)
                obj = set25d.build_set(scene, depth, picture, options, frame=_first_frame(scene))
            except (ValueError, RuntimeError) as exc:
                self.report({"ERROR"}, str(exc))
                return {"CANCELLED"}
            undo.push_step(self.bl_label)  # the same one step as the server's path (no UNDO flag here)
            self.report({"INFO"}, iface("2.5D set {name} built", name=obj.name))
            return {"FINISHED"}
        rt = runtime.get() if runtime.is_ready() else None
        if rt is None or not rt.online or not scene.aipipe_shot.shot_id:
            self.report({"ERROR"}, tip("Log in and set up the shot first, or give a depth file"))
            return {"CANCELLED"}
        scene_name = scene.name

        def apply(data: dict[str, Any]) -> None:
            target: Any = bpy.data.scenes.get(scene_name)
            if target is None:
                return
            version = data["depth_version"]
            source = {"depth_version_id": str(version["id"]), "depth_version": version.get("code", "")}
            try:
                obj = set25d.build_set(
                    target, data["depth"], data["picture"], options, source, _first_frame(target)
                )
            except (ValueError, RuntimeError) as exc:
                rt.report(iface("The 2.5D set failed: {error}", error=exc), "ERROR")
                return
            rt.report(iface("2.5D set {name} built", name=obj.name))

        rt.run(
            iface("Building 2.5D set"),
            fetch_depth(scene.aipipe_shot.shot_id),
            apply,
            undo=self.bl_label,
            long=True,
        )
        return {"FINISHED"}


CLASSES = (AIPIPE_OT_layout_build_set,)


def register() -> None:
    register_classes(CLASSES)


def unregister() -> None:
    unregister_classes(CLASSES)
