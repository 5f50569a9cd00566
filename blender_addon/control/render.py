"""Render control images from the shot camera: a depth image and a line image from one Workbench render, and
a pose image of the character rigs (no render: their bones projected through the camera, see `pose.py`).

Callable without the add-on being registered (the benchmark and tests call it headless):

    paths = render_control_images(scene, "/tmp/ctl", "SHT_0010", kinds=("depth", "canny", "pose"))

The user's scene is not touched: a throw-away scene that links the same collections and objects (with the
same collections excluded) renders once with Workbench, its normal matcap as colour and the depth pass in
the alpha channel (packed by the compositor), at the scene's full resolution. That picture goes through an
uncompressed float EXR into numpy; `maps.py` turns it into the images and `png.py` writes them.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import bpy
import numpy as np

from .. import compat
from ..i18n import iface
from . import maps, png, pose

KINDS = ("depth", "canny", "pose")
RENDERED = ("depth", "canny")  # the kinds made from the Workbench render (pose needs none)
NORMAL_MATCAP = "check_normal+y.exr"  # ships with Blender 4.2 to 5.0: colour = view-space normal
TEMP_SCENE = "AIPIPE control render"


@dataclass
class ControlPasses:
    depth: np.ndarray  # H×W float32, camera units, top row first; 1e10 where nothing was hit
    normals: np.ndarray  # H×W×3 float32, the normal matcap's colour
    seconds: float = 0.0  # the render and read-back


@dataclass
class ControlImages:
    paths: dict[str, str] = field(default_factory=dict)  # kind -> PNG
    width: int = 0
    height: int = 0
    frame: int = 0
    timings: dict[str, float] = field(default_factory=dict)  # render, depth, canny (seconds)


def _link_contents(source: Any, target: Any) -> None:
    for child in source.collection.children:
        target.collection.children.link(child)
    for obj in source.collection.objects:
        target.collection.objects.link(obj)
    _copy_exclusions(source.view_layers[0].layer_collection, target.view_layers[0].layer_collection)


def _copy_exclusions(source: Any, target: Any) -> None:
    """What the artist excluded from the scene's first view layer stays out of the control render."""
    targets = {child.collection.name: child for child in target.children}
    for child in source.children:
        twin = targets.get(child.collection.name)
        if twin is None:
            continue
        twin.exclude = child.exclude
        if not child.exclude:
            _copy_exclusions(child, twin)


def _setup(temp: Any, source: Any, frame: int) -> Any:
    temp.camera = source.camera
    render = temp.render
    render.engine = compat.WORKBENCH
    render.resolution_x, render.resolution_y = source.render.resolution_x, source.render.resolution_y
    render.resolution_percentage = 100
    render.pixel_aspect_x, render.pixel_aspect_y = source.render.pixel_aspect_x, source.render.pixel_aspect_y
    render.film_transparent = True
    render.use_compositing = True
    display = temp.display
    display.render_aa = "OFF"  # one sample: an anti-aliased normal would blur the fold lines
    shading = display.shading
    shading.light = "MATCAP"
    shading.studio_light = NORMAL_MATCAP
    shading.color_type = "SINGLE"
    shading.single_color = (1.0, 1.0, 1.0)
    for name in ("show_cavity", "show_shadows", "show_object_outline", "show_xray", "use_dof"):
        if hasattr(shading, name):
            setattr(shading, name, False)
    temp.view_layers[0].use_pass_z = True
    settings = render.image_settings
    if hasattr(settings, "media_type"):
        settings.media_type = "IMAGE"
    settings.file_format = "OPEN_EXR"
    settings.color_mode = "RGBA"
    settings.color_depth = "32"
    settings.exr_codec = "NONE"
    temp.frame_set(frame)
    tree, output = compat.compositor_tree(temp, TEMP_SCENE)
    layers = tree.nodes.new("CompositorNodeRLayers")
    layers.scene = temp
    split = tree.nodes.new("CompositorNodeSeparateColor")
    pack = tree.nodes.new("CompositorNodeCombineColor")
    tree.links.new(layers.outputs["Image"], split.inputs[0])
    for channel in range(3):
        tree.links.new(split.outputs[channel], pack.inputs[channel])
    tree.links.new(layers.outputs["Depth"], pack.inputs[3])  # depth rides in the alpha channel
    tree.links.new(pack.outputs[0], output.inputs[0])
    return tree


def render_passes(scene: Any, frame: int | None = None) -> ControlPasses:
    """Depth and surface-normal colour seen by `scene.camera` at `frame` (default: the current frame)."""
    if scene.camera is None:
        raise RuntimeError(
            iface("Scene {scene} has no camera to render control images from", scene=scene.name)
        )
    started = time.perf_counter()
    frame = scene.frame_current if frame is None else frame
    # The throw-away scene's frame_set does not re-evaluate the objects it shares with the artist's scene:
    # step the artist's scene to `frame` (so the pose is the one at `frame`) and give their frame back after.
    artist_frame = (scene.frame_current, scene.frame_subframe)
    if artist_frame != (frame, 0.0):
        scene.frame_set(frame)
    temp = bpy.data.scenes.new(TEMP_SCENE)
    tree = None
    handle, exr = tempfile.mkstemp(prefix="aipipe-control-", suffix=".exr")
    os.close(handle)
    image = None
    try:
        _link_contents(scene, temp)
        tree = _setup(temp, scene, frame)
        bpy.ops.render.render(write_still=False, scene=temp.name)
        bpy.data.images["Render Result"].save_render(exr, scene=temp)
        image = bpy.data.images.load(exr)
        width, height = image.size[:]
        if (width, height) != (temp.render.resolution_x, temp.render.resolution_y):
            raise RuntimeError(iface("Blender rendered {width}×{height} instead", width=width, height=height))
        flat = np.empty(width * height * 4, np.float32)
        image.pixels.foreach_get(flat)
    finally:
        if image is not None:
            bpy.data.images.remove(image)
        if tree is not None:
            compat.remove_compositor_tree(tree)
        bpy.data.scenes.remove(temp)
        os.remove(exr)
        if (scene.frame_current, scene.frame_subframe) != artist_frame:
            scene.frame_set(artist_frame[0], subframe=artist_frame[1])
    picture = flat.reshape(height, width, 4)[::-1]  # Blender's rows run bottom-up
    return ControlPasses(
        depth=np.ascontiguousarray(picture[..., 3]),
        normals=np.ascontiguousarray(picture[..., :3]),
        seconds=time.perf_counter() - started,
    )


def _rigs(scene: Any) -> list[Any]:
    """The armatures the scene renders: in its first view layer (excluded collections left out), not hidden
    from renders."""
    return [o for o in scene.view_layers[0].objects if o.type == "ARMATURE" and not o.hide_render]


def pose_skeletons(scene: Any, frame: int | None = None) -> list[dict[int, tuple[float, float]]]:
    """Each character rig's OpenPose keypoints at `frame` as pixels of the scene camera's picture (full
    resolution, top-left origin); points behind the camera are left out, rigs with no body bones too."""
    from bpy_extras.object_utils import world_to_camera_view
    from mathutils import Vector

    if scene.camera is None:
        raise RuntimeError(
            iface("Scene {scene} has no camera to render control images from", scene=scene.name)
        )
    frame = scene.frame_current if frame is None else frame
    artist_frame = (scene.frame_current, scene.frame_subframe)
    if artist_frame != (frame, 0.0):
        scene.frame_set(frame)
    try:
        depsgraph = scene.view_layers[0].depsgraph
        depsgraph.update()
        width, height = scene.render.resolution_x, scene.render.resolution_y
        camera = scene.camera.evaluated_get(depsgraph)
        skeletons = []
        for rig in _rigs(scene):
            evaluated = rig.evaluated_get(depsgraph)
            world = evaluated.matrix_world
            bones = {b.name: (tuple(world @ b.head), tuple(world @ b.tail)) for b in evaluated.pose.bones}
            skeleton = {}
            for index, point in pose.keypoints_from_bones(bones).items():
                seen = world_to_camera_view(scene, camera, Vector(point))
                if seen.z > 0:  # in front of the camera (the picture's edges may cut it)
                    skeleton[index] = (float(seen.x) * width, (1.0 - float(seen.y)) * height)
            if skeleton:
                skeletons.append(skeleton)
    finally:
        if (scene.frame_current, scene.frame_subframe) != artist_frame:
            scene.frame_set(artist_frame[0], subframe=artist_frame[1])
    return skeletons


def render_control_images(
    scene: Any,
    folder: str,
    stem: str,
    kinds: Iterable[str] = RENDERED,
    bits: int = 8,
    frame: int | None = None,
) -> ControlImages:
    """Render once and write `<stem>_<kind>.png` into `folder` for each of `kinds` (depth, canny, pose).
    A pose image is RGB (OpenPose's colours) and needs a character rig (an armature) before the camera."""
    kinds = tuple(kinds)
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise ValueError(
            iface("Control kinds are depth, canny and pose, got {kinds}", kinds=", ".join(kinds))
        )
    result = ControlImages(
        width=scene.render.resolution_x,
        height=scene.render.resolution_y,
        frame=scene.frame_current if frame is None else frame,
    )
    if "pose" in kinds:
        started = time.perf_counter()
        skeletons = pose_skeletons(scene, result.frame)
        if not skeletons:
            raise RuntimeError(iface("No character rig (an armature with body bones) is before the camera"))
        picture = pose.draw_pose(result.width, result.height, skeletons)
        result.paths["pose"] = png.write_rgb(os.path.join(folder, f"{stem}_pose.png"), picture)
        result.timings["pose"] = time.perf_counter() - started
    if not any(kind in RENDERED for kind in kinds):
        return result
    passes = render_passes(scene, frame)
    result.width, result.height = passes.depth.shape[1], passes.depth.shape[0]
    result.timings["render"] = passes.seconds
    for kind in (k for k in kinds if k in RENDERED):
        started = time.perf_counter()
        pixels = (
            maps.depth_map(passes.depth, bits)
            if kind == "depth"
            else maps.line_map(passes.depth, passes.normals)
        )
        result.paths[kind] = png.write_grey(os.path.join(folder, f"{stem}_{kind}.png"), pixels)
        result.timings[kind] = time.perf_counter() - started
    return result
