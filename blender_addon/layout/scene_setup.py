"""Build or update a shot's layout scene in Blender from server records (main thread, no network)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import bpy

from .. import compat
from ..i18n import iface
from . import opsdata


@dataclass(frozen=True)
class SetupOptions:
    background_alpha: float = 0.5
    background_in_front: bool = False
    reference_plane: bool = False


def scene_name(shot_code: str) -> str:
    return f"{shot_code}_layout"


def setup_scene(
    project: Mapping[str, Any],
    shot: Mapping[str, Any],
    preset: Mapping[str, Any] | None,
    first_frame: str | None,
    options: SetupOptions = SetupOptions(),
) -> Any:
    """Create (or bring up to date) the scene `<code>_layout`: range, fps, resolution, camera, guide."""
    code = shot["code"]
    scene = bpy.data.scenes.get(scene_name(code)) or bpy.data.scenes.new(scene_name(code))
    _show_in_window(scene)
    head, tail = opsdata.handles(shot, project)
    frames = opsdata.frame_range(int(shot["duration_frames"]), head, tail)
    scene.frame_start, scene.frame_end = frames.first, frames.last
    scene.frame_current = frames.cut_in
    fps, fps_base = opsdata.blender_fps(int(project["fps_num"]), int(project["fps_den"]))
    scene.render.fps, scene.render.fps_base = fps, fps_base
    scene.render.resolution_x, scene.render.resolution_y = int(project["width"]), int(project["height"])
    scene.render.resolution_percentage = 100

    camera = _camera(scene, code, preset)
    if first_frame:
        image = bpy.data.images.load(first_frame, check_existing=True)
        image.name = f"{code}_first_frame"
        compat.camera_background(camera.data, image, options.background_alpha, options.background_in_front)
        if options.reference_plane:
            _reference_plane(scene, camera, first_frame, code)

    marks = scene.timeline_markers
    for name, frame in (("cut in", frames.cut_in), ("cut out", frames.cut_out)):
        marker = marks.get(name) or marks.new(name, frame=frame)
        marker.frame = frame
    context = scene.aipipe_shot
    context.project_id, context.shot_id, context.shot_code = str(project["id"]), str(shot["id"]), code
    context.cut_in, context.cut_out = frames.cut_in, frames.cut_out
    context.lens_mm = camera.data.lens
    return scene


def _show_in_window(scene: Any) -> None:
    """Show the layout scene in the artist's main window.

    The window is taken from the window manager's list, not from `bpy.context.window`: this runs from the
    add-on's timer, where the context's window is either unset (Blender's UI) or, in a background session
    after the file was re-read, a pointer Blender 4.2 may have freed (switching through it crashed Blender
    once in CI). A window already showing the scene is left alone."""
    manager = getattr(bpy.context, "window_manager", None)
    windows = list(manager.windows) if manager is not None else []
    if not windows or any(window.scene == scene for window in windows):
        return
    active = bpy.context.scene
    target = next((window for window in windows if window.scene == active), windows[0])
    target.scene = scene


def _camera(scene: Any, code: str, preset: Mapping[str, Any] | None) -> Any:
    camera: Any = bpy.data.objects.get(code)
    if camera is None or camera.type != "CAMERA":
        data = bpy.data.cameras.new(code)
        camera = bpy.data.objects.new(code, data)
        camera.location = (0.0, -10.0, 1.6)
        camera.rotation_euler = (math.radians(90.0), 0.0, 0.0)
    if camera.name not in scene.collection.all_objects:
        scene.collection.objects.link(camera)
    if preset:
        camera.data.lens = float(preset["lens_mm"])
        camera.data.sensor_width = float(preset["sensor_mm"])
        camera.data.sensor_fit = "HORIZONTAL"
    scene.camera = camera
    return camera


def _reference_plane(scene: Any, camera: Any, image_path: str, code: str) -> Any:
    """The first frame on a plane that fills the camera's view at 10 m, parented to the camera."""
    name = f"{code}_first_frame_plane"
    plane = bpy.data.objects.get(name) or compat.load_reference_plane(image_path, name)
    if plane.name not in scene.collection.all_objects:
        scene.collection.objects.link(plane)
    distance = 10.0
    width = distance * camera.data.sensor_width / camera.data.lens
    plane.parent = camera
    plane.location = (0.0, 0.0, -distance)
    plane.rotation_euler = (0.0, 0.0, 0.0)
    plane.scale = (width / 2, width / 2, 1.0)
    plane.hide_render = True
    return plane


def export_camera(scene: Any, folder: str, stem: str) -> list[str]:
    """The scene camera as FBX and Alembic (`<stem>.fbx`, `<stem>.abc`) for other packages."""
    import os

    camera = scene.camera
    if camera is None:
        raise ValueError(iface("Scene {scene} has no camera to export", scene=scene.name))
    os.makedirs(folder, exist_ok=True)
    fbx, abc = os.path.join(folder, f"{stem}.fbx"), os.path.join(folder, f"{stem}.abc")
    with bpy.context.temp_override(scene=scene, selected_objects=[camera], active_object=camera):
        for obj in scene.objects:
            obj.select_set(obj == camera)
        bpy.ops.export_scene.fbx(
            filepath=fbx, use_selection=True, object_types={"CAMERA"}, bake_anim=True, add_leaf_bones=False
        )
        bpy.ops.wm.alembic_export(
            filepath=abc, selected=True, start=scene.frame_start, end=scene.frame_end, as_background_job=False
        )
    return [fbx, abc]


def import_camera(scene: Any, path: str, name: str | None = None) -> Any:
    """Import the camera from an FBX or Alembic file and make it the scene camera."""
    before = set(bpy.data.objects)
    with bpy.context.temp_override(scene=scene):
        if path.lower().endswith(".fbx"):
            bpy.ops.import_scene.fbx(filepath=path)
        elif path.lower().endswith(".abc"):
            bpy.ops.wm.alembic_import(filepath=path, as_background_job=False)
        else:
            raise ValueError(iface("{path}: import a camera from an .fbx or .abc file", path=path))
    cameras = [o for o in set(bpy.data.objects) - before if o.type == "CAMERA"]
    if not cameras:
        raise ValueError(iface("{path} holds no camera", path=path))
    camera = cameras[0]
    if camera.name not in scene.collection.all_objects:
        scene.collection.objects.link(camera)
    if name:
        camera.name = name
    scene.camera = camera
    return camera
