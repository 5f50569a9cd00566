"""Build the 2.5D set in Blender: the first frame's depth as a displaced grid in front of the shot camera,
the first frame projected on it from the camera (main thread; the math is in `set25d_core`).

The set is a normal mesh object `<shot>_set25d` (`<camera>_set25d` outside a shot scene) in the collection
of that name under the scene's collection, so renders, playblasts and the control renders see it. Its object
matrix is the camera's at the frame it was built on (vertices in that camera's space), so it stays where it
is when the camera moves later.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import bpy
import numpy as np

from .. import compat
from ..i18n import iface
from . import set25d_core as core

SET_KEY = "aipipe_set25d"  # on the object: how it was built (JSON); the playblast shows its picture


@dataclass(frozen=True)
class SetOptions:
    encoding: str = "depth"  # "depth" (Lotus after its invert) or "inverse" (near = white inverse depth)
    columns: int = 160
    tear: float = 0.0
    ground_z: float = 0.0


def read_grey(path: str) -> np.ndarray:
    """An image file as H×W floats 0..1 (the mean of its colour channels), top row first, values as stored."""
    image = bpy.data.images.load(path, check_existing=False)
    try:
        image.colorspace_settings.is_data = True  # the stored values, no colour transform
        width, height = image.size[:]
        if width == 0 or height == 0:
            raise ValueError(iface("{path} is not an image Blender can read", path=path))
        flat = np.empty(width * height * image.channels, np.float32)
        image.pixels.foreach_get(flat)
    finally:
        bpy.data.images.remove(image)
    pixels = flat.reshape(height, width, -1)[::-1]
    channels = pixels[..., :3] if pixels.shape[-1] >= 3 else pixels[..., :1]
    return np.ascontiguousarray(channels.mean(axis=-1))


def camera_intrinsics(scene: Any, camera: Any) -> core.Intrinsics:
    data, render = camera.data, scene.render
    if data.type != "PERSP":
        raise ValueError(iface("Camera {camera} is not a perspective camera", camera=camera.name))
    scale = render.resolution_percentage / 100.0
    return core.intrinsics(
        data.lens,
        data.sensor_width,
        data.sensor_height,
        data.sensor_fit,
        data.shift_x,
        data.shift_y,
        max(1, round(render.resolution_x * scale)),
        max(1, round(render.resolution_y * scale)),
    )


def _collection(scene: Any, name: str) -> Any:
    collection = bpy.data.collections.get(name) or bpy.data.collections.new(name)
    if collection.name not in {c.name for c in scene.collection.children_recursive}:
        scene.collection.children.link(collection)
    return collection


def _material(name: str, picture: Any | None) -> Any:
    material = bpy.data.materials.get(name) or bpy.data.materials.new(name)
    if not compat.IS_5:  # 5.0 materials always have a node tree; `use_nodes` is deprecated there
        material.use_nodes = True
    nodes, links = material.node_tree.nodes, material.node_tree.links
    nodes.clear()
    output = nodes.new("ShaderNodeOutputMaterial")
    emission = nodes.new("ShaderNodeEmission")  # the picture as it is, unlit
    links.new(emission.outputs[0], output.inputs["Surface"])
    if picture is not None:
        texture = nodes.new("ShaderNodeTexImage")
        texture.image = picture
        texture.extension = "EXTEND"
        links.new(texture.outputs["Color"], emission.inputs["Color"])
        nodes.active = texture  # Workbench's texture colour shows the active image node
    return material


def _mesh(name: str, geometry: core.SetGeometry) -> Any:
    mesh = bpy.data.meshes.get(name)
    if mesh is not None and mesh.users == 0:
        bpy.data.meshes.remove(mesh)
    mesh = bpy.data.meshes.new(name)
    faces = geometry.faces
    mesh.vertices.add(len(geometry.vertices))
    mesh.vertices.foreach_set("co", geometry.vertices.astype(np.float32).ravel())
    mesh.loops.add(faces.size)
    mesh.loops.foreach_set("vertex_index", faces.astype(np.int32).ravel())
    mesh.polygons.add(len(faces))
    mesh.polygons.foreach_set("loop_start", (np.arange(len(faces), dtype=np.int32) * 4))
    uv = mesh.uv_layers.new(name="camera")
    uv.data.foreach_set("uv", geometry.uvs[faces.ravel()].astype(np.float32).ravel())
    mesh.update(calc_edges=True)
    mesh.validate(verbose=False)
    return mesh


def build_set(
    scene: Any,
    depth_path: str,
    picture_path: str | None,
    options: SetOptions = SetOptions(),
    source: Mapping[str, Any] | None = None,
    frame: int | None = None,
) -> Any:
    """Build (or rebuild) the scene's 2.5D set from the depth image at `depth_path`, seen by the scene camera
    at `frame` (default: where it is now; the picture is the cut's first frame, so the operator passes the
    cut's first frame), with the picture at `picture_path` projected on it. Returns the object."""
    camera = scene.camera
    if camera is None or camera.type != "CAMERA":
        raise ValueError(iface("Scene {scene} has no camera to build the set in front of", scene=scene.name))
    current = scene.frame_current
    if frame is not None and frame != current:
        scene.frame_set(frame)
    try:
        intr = camera_intrinsics(scene, camera)
        matrix = camera.matrix_world.normalized()
    finally:
        if scene.frame_current != current:
            scene.frame_set(current)
    rotation = [list(row) for row in matrix.to_3x3()]
    image = read_grey(depth_path)
    scale = core.ground_scale(intr, image, rotation, matrix.translation.z, options.encoding, options.ground_z)
    geometry = core.build_geometry(intr, image, scale, options.columns, options.tear)
    shot = getattr(scene, "aipipe_shot", None)  # absent when the add-on is not registered (headless use)
    code = (shot.shot_code if shot is not None else "") or camera.name
    name = f"{code}_set25d"
    picture = bpy.data.images.load(picture_path, check_existing=True) if picture_path else None
    mesh = _mesh(name, geometry)
    mesh.materials.append(_material(name, picture))
    obj = bpy.data.objects.get(name)
    if obj is None or obj.type != "MESH":
        obj = bpy.data.objects.new(name, mesh)
    else:
        old = obj.data
        obj.data = mesh
        if old.users == 0:
            bpy.data.meshes.remove(old)
    mesh.name = name
    collection = _collection(scene, name)
    if obj.name not in collection.objects:
        collection.objects.link(obj)
    obj.matrix_world = matrix
    obj.display_type = "TEXTURED"
    obj[SET_KEY] = json.dumps(
        {
            **asdict(options),
            "scale": {k: v for k, v in asdict(scale).items() if k != "max_depth"},
            "camera": camera.name,
            "frame": current if frame is None else frame,
            "depth_file": os.path.basename(depth_path),
            **dict(source or {}),
        }
    )
    return obj


def set_objects(scene: Any) -> list[Any]:
    """The scene's 2.5D sets (what the playblast shows with their pictures)."""
    return [obj for obj in scene.objects if SET_KEY in obj and obj.visible_get()]
