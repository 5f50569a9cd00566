"""fSpy project files (`.fspy`) in and out: import sets the scene camera as a solve does (transform, field
of view with sensor fit HORIZONTAL, principal point as shift, resolution) and shows the project's picture
behind it; export writes the scene camera and its background picture as a project fSpy and this importer
read back. The file format is `aipipe_shared.fspy` (standard library only)."""

from __future__ import annotations

import os
from typing import Any

import bpy
from bpy.props import StringProperty
from bpy_extras.io_utils import ExportHelper, ImportHelper

from .. import compat
from ..i18n import iface
from ..registry import register_classes, unregister_classes
from ..shared import fspy
from . import apply, apply_core

IMAGE_SUFFIXES = {b"\x89PNG": ".png", b"\xff\xd8\xff": ".jpg", b"RIFF": ".webp"}


def _suffix(data: bytes) -> str:
    return next((s for magic, s in IMAGE_SUFFIXES.items() if data.startswith(magic)), ".png")


def import_project(scene: Any, path: str) -> tuple[Any, apply_core.CameraParams]:
    """Read `path` and put its camera on the scene camera (made when there is none); ValueError names
    what is wrong with the file."""
    with open(path, "rb") as handle:
        data = handle.read()
    try:
        project = fspy.loads(data)
    except fspy.FspyError as exc:
        raise ValueError(f"{os.path.basename(path)}: {exc}") from exc
    camera = apply.scene_camera(scene, os.path.splitext(os.path.basename(path))[0])
    sensor = camera.data.sensor_width or apply_core.DEFAULT_SENSOR_WIDTH_MM
    params = apply_core.params_from_solution(fspy.solution_fields(project), sensor_width_mm=sensor)
    apply.apply_params(scene, camera, params)
    for key in (apply.SOLUTION_KEY, apply.VERSION_KEY):  # the lines drawn were another solve's
        if key in camera:
            del camera[key]
    if project.image:
        _show_picture(camera, project.image, os.path.basename(path))
    return camera, params


def _show_picture(camera: Any, data: bytes, name: str) -> None:
    """The project's picture, packed into the .blend (no file on disk), as the camera's background."""
    filename = os.path.splitext(name)[0] + _suffix(data)
    image = bpy.data.images.new(filename, 8, 8)
    image.pack(data=data, data_len=len(data))
    image.source = "FILE"
    image.filepath_raw = f"//{filename}"  # where "unpack" would write it, beside the .blend
    compat.camera_background(camera.data, image, 0.5, False)


def background_bytes(camera: Any) -> bytes:
    """The bytes of the camera's first background picture (packed or on disk); b'' when there is none."""
    for entry in camera.data.background_images:
        image = entry.image
        if image is None:
            continue
        if image.packed_file is not None:
            return bytes(image.packed_file.data)
        path = bpy.path.abspath(image.filepath)
        if path and os.path.isfile(path):
            with open(path, "rb") as handle:
                return handle.read()
    return b""


def export_project(scene: Any, path: str) -> fspy.FspyProject:
    """Write the scene camera (as it renders at the scene's resolution) and its picture to `path`."""
    camera = scene.camera
    if camera is None or camera.type != "CAMERA":
        raise ValueError(iface("Scene {scene} has no camera", scene=scene.name))
    data = camera.data
    render = scene.render
    width = max(1, round(render.resolution_x * render.resolution_percentage / 100))
    height = max(1, round(render.resolution_y * render.resolution_percentage / 100))
    fields = apply_core.fspy_fields_from_camera(
        data.lens,
        data.sensor_width,
        data.sensor_height,
        data.sensor_fit,
        (data.shift_x, data.shift_y),
        [list(row) for row in camera.matrix_world],
        width,
        height,
    )
    # fSpy's own state too (settings, control points on the vanishing lines), so fSpy itself opens the file
    state = apply_core.fspy_app_state(fields, data.lens, data.sensor_width, data.sensor_height)
    project = fspy.FspyProject(**fields, image=background_bytes(camera), extra_state=state)
    temporary = f"{path}.part"
    with open(temporary, "wb") as handle:
        handle.write(fspy.dumps(project))
    os.replace(temporary, path)  # atomic: a reader never sees half a file
    return project


class AIPIPE_OT_camera_fspy_import(bpy.types.Operator, ImportHelper):
    """Set the scene camera from an fSpy project (.fspy): transform, field of view, shift, picture"""

    bl_idname = "aipipe.camera_fspy_import"
    bl_label = "Import fSpy"
    bl_options = {"REGISTER", "UNDO"}

    filename_ext = ".fspy"
    filter_glob: StringProperty(default="*.fspy", options={"HIDDEN"})  # type: ignore[valid-type]

    def execute(self, context: bpy.types.Context) -> set[str]:
        try:
            camera, params = import_project(context.scene, self.filepath)
        except (OSError, ValueError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report(
            {"INFO"},
            iface(
                "Camera {camera}: {lens} mm from {file}",
                camera=camera.name,
                lens=f"{params.lens_mm:.1f}",
                file=os.path.basename(self.filepath),
            ),
        )
        return {"FINISHED"}


class AIPIPE_OT_camera_fspy_export(bpy.types.Operator, ExportHelper):
    """Write the scene camera and its background picture as an fSpy project (.fspy)"""

    bl_idname = "aipipe.camera_fspy_export"
    bl_label = "Export fSpy"

    filename_ext = ".fspy"
    filter_glob: StringProperty(default="*.fspy", options={"HIDDEN"})  # type: ignore[valid-type]

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if context.scene.camera is None:
            cls.poll_message_set(iface("The scene has no camera"))
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        try:
            export_project(context.scene, self.filepath)
        except (OSError, ValueError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, iface("Wrote {file}", file=os.path.basename(self.filepath)))
        return {"FINISHED"}


CLASSES = (AIPIPE_OT_camera_fspy_import, AIPIPE_OT_camera_fspy_export)


def register() -> None:
    register_classes(CLASSES)


def unregister() -> None:
    unregister_classes(CLASSES)
