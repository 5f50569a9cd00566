"""What a layout hands on besides its .blend: the camera's animation as JSON (per-frame focal length and
transform, beside the camera's FBX/Alembic) and the character blocking as Alembic and FBX, and how they come
back in (main thread).

The camera track (`<stem>_camera.json`, format `aipipe.camera_track` version 1): Blender's conventions —
scene Z up, metres (the scene's unit scale applied); a camera looks down its own −Z with +Y up;
`matrix_world` is the 4×4 camera-to-scene matrix as rows. Per frame: `focal_mm` (for `sensor_width_mm`
across the fitted side, see `sensor_fit`), `focal_px` and the principal point `cx`, `cy` in pixels of the
render resolution (top-left origin, y down), `shift_x`, `shift_y`, `location`, `rotation_euler` (XYZ,
radians) and `matrix_world`.

Characters: the scene's armatures with the objects they carry (children, meshes they deform) and proxies
(any object with the custom property `aipipe_character`), animated or not. Alembic holds the deformed meshes
and object transforms; FBX holds the armatures' bones and their animation as well.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from typing import Any

import bpy

from ..i18n import iface
from . import set25d, set25d_core

TRACK_FORMAT = "aipipe.camera_track"
CHARACTER_KEY = "aipipe_character"  # a proxy object: exported with the characters


def _rows(matrix: Any) -> list[list[float]]:
    return [[round(float(v), 9) for v in row] for row in matrix]


def camera_track(scene: Any, camera: Any = None, start: int | None = None, end: int | None = None) -> dict:
    """The camera's animation over `start`-`end` (default: the scene's range), one entry per frame."""
    camera = camera or scene.camera
    if camera is None or camera.type != "CAMERA":
        raise ValueError(iface("Scene {scene} has no camera to export", scene=scene.name))
    start = scene.frame_start if start is None else start
    end = scene.frame_end if end is None else end
    render = scene.render
    unit = scene.unit_settings.scale_length if scene.unit_settings.system != "NONE" else 1.0
    current = scene.frame_current
    frames = []
    try:
        for frame in range(start, end + 1):
            scene.frame_set(frame)
            data = camera.data
            matrix = camera.matrix_world.copy()
            intr = set25d_core.intrinsics(
                data.lens,
                data.sensor_width,
                data.sensor_height,
                data.sensor_fit,
                data.shift_x,
                data.shift_y,
                render.resolution_x,
                render.resolution_y,
            )
            location = matrix.to_translation() * unit
            matrix.translation = location
            frames.append(
                {
                    "frame": frame,
                    "focal_mm": round(float(data.lens), 6),
                    "focal_px": round(intr.focal_px, 6),
                    "cx": round(intr.cx, 6),
                    "cy": round(intr.cy, 6),
                    "shift_x": round(float(data.shift_x), 6),
                    "shift_y": round(float(data.shift_y), 6),
                    "location": [round(float(v), 9) for v in location],
                    "rotation_euler": [round(float(v), 9) for v in matrix.to_euler("XYZ")],
                    "matrix_world": _rows(matrix),
                }
            )
    finally:
        scene.frame_set(current)
    shot = getattr(scene, "aipipe_shot", None)
    return {
        "format": TRACK_FORMAT,
        "version": 1,
        "shot": shot.shot_code if shot is not None else "",
        "camera": camera.name,
        "fps": render.fps / render.fps_base,
        "fps_fraction": [render.fps, render.fps_base],
        "frame_start": start,
        "frame_end": end,
        "resolution": [render.resolution_x, render.resolution_y],
        "sensor_fit": camera.data.sensor_fit,
        "sensor_width_mm": float(camera.data.sensor_width),
        "sensor_height_mm": float(camera.data.sensor_height),
        "clip": [float(camera.data.clip_start), float(camera.data.clip_end)],
        "axes": "Z up, metres; the camera looks down its -Z with +Y up; matrix_world rows, camera to scene",
        "frames": frames,
    }


def write_json(path: str, document: dict) -> str:
    """Write atomically (a temp file in the same folder, then rename)."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=folder)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(document, out, indent=1)
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.remove(temp)
        raise
    return path


def write_camera_track(
    scene: Any, folder: str, stem: str, start: int | None = None, end: int | None = None
) -> str:
    return write_json(os.path.join(folder, f"{stem}.json"), camera_track(scene, None, start, end))


def characters(scene: Any) -> list[Any]:
    """The armatures with what they carry, and the proxies (never the camera or a 2.5D set)."""
    found: dict[str, Any] = {}
    armatures = [o for o in scene.objects if o.type == "ARMATURE"]
    for armature in armatures:
        found[armature.name] = armature
        for child in armature.children_recursive:
            found[child.name] = child
    for obj in scene.objects:
        if obj.name in found or obj.type in {"CAMERA", "LIGHT"} or set25d.SET_KEY in obj:
            continue
        deformed = any(m.type == "ARMATURE" and m.object in armatures for m in getattr(obj, "modifiers", ()))
        if deformed or CHARACTER_KEY in obj:
            found[obj.name] = obj
    return list(found.values())


def _select_only(scene: Any, objects: Iterable[Any]) -> list[Any]:
    chosen = list(objects)
    names = {o.name for o in chosen}
    for obj in scene.objects:
        obj.select_set(obj.name in names)
    return chosen


def export_characters(
    scene: Any, folder: str, stem: str, start: int | None = None, end: int | None = None
) -> list[str]:
    """`<stem>.abc` and `<stem>.fbx` of the scene's characters (nothing when it has none)."""
    objects = characters(scene)
    if not objects:
        return []
    start = scene.frame_start if start is None else start
    end = scene.frame_end if end is None else end
    os.makedirs(folder, exist_ok=True)
    abc, fbx = os.path.join(folder, f"{stem}.abc"), os.path.join(folder, f"{stem}.fbx")
    current = scene.frame_current
    selected = [o for o in scene.objects if o.select_get()]
    try:
        with bpy.context.temp_override(scene=scene, selected_objects=objects, active_object=objects[0]):
            _select_only(scene, objects)
            bpy.ops.wm.alembic_export(
                filepath=abc, selected=True, start=start, end=end, as_background_job=False
            )
            frame_start, frame_end = scene.frame_start, scene.frame_end
            scene.frame_start, scene.frame_end = start, end  # FBX bakes the scene's range
            try:
                bpy.ops.export_scene.fbx(
                    filepath=fbx,
                    use_selection=True,
                    object_types={"ARMATURE", "MESH", "EMPTY", "OTHER"},
                    bake_anim=True,
                    bake_anim_use_all_actions=False,
                    bake_anim_use_nla_strips=False,
                    bake_anim_simplify_factor=0.0,
                    add_leaf_bones=False,
                )
            finally:
                scene.frame_start, scene.frame_end = frame_start, frame_end
    finally:
        _select_only(scene, selected)
        scene.frame_set(current)
    return [abc, fbx]


def import_characters(scene: Any, path: str) -> list[Any]:
    """Import characters from an Alembic or FBX file into the collection `<file>` of `scene`; returns the
    new objects."""
    lower = path.lower()
    if not lower.endswith((".abc", ".fbx")):
        raise ValueError(iface("{path}: import characters from an .abc or .fbx file", path=path))
    if not os.path.isfile(path):
        raise ValueError(iface("{path} does not exist", path=path))
    name = os.path.splitext(os.path.basename(path))[0]
    collection = bpy.data.collections.new(name)
    scene.collection.children.link(collection)
    before = set(bpy.data.objects)
    view_layer = scene.view_layers[0]
    layer = next(c for c in view_layer.layer_collection.children if c.collection == collection)
    active = view_layer.active_layer_collection
    view_layer.active_layer_collection = layer
    try:
        with bpy.context.temp_override(scene=scene, view_layer=view_layer):
            if lower.endswith(".fbx"):
                bpy.ops.import_scene.fbx(filepath=path, use_anim=True, anim_offset=0.0)
            else:
                bpy.ops.wm.alembic_import(filepath=path, as_background_job=False)
    finally:
        view_layer.active_layer_collection = active
    new = [o for o in set(bpy.data.objects) - before]
    for obj in new:
        if obj.name not in collection.objects:
            for other in list(obj.users_collection):
                other.objects.unlink(obj)
            collection.objects.link(obj)
    if not new:
        bpy.data.collections.remove(collection)
        raise ValueError(iface("{path} holds no objects", path=path))
    return new
