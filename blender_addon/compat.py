"""Every difference between Blender 4.2 LTS, 4.5 LTS and 5.x that the add-on meets, in one place.

Facts (introspected on bpy 4.2.23 / 4.5.15 / 5.0.1): the VSE collection is `sequences` before 4.4 and
`strips` from 4.4 (`sequences` removed in 5.0); `new_effect` takes `frame_end`/`seq1` in 4.2, `input1` from
4.4 and `length` from 5.0; EEVEE is `BLENDER_EEVEE_NEXT` in 4.2–4.5 and `BLENDER_EEVEE` again in 5.0; 5.0
adds `image_settings.media_type` (it must be `VIDEO` before `file_format = "FFMPEG"`); VSE operators in
5.0 background mode need `workspace.sequencer_scene`; `Strip.left_handle/right_handle` arrive in 5.1. The
compositor is `scene.node_tree` (after `use_nodes`) ending in a Composite node up to 4.5, and in 5.0 a node
group set as `scene.compositing_node_group` ending in its Group Output.
"""

from __future__ import annotations

from typing import Any

import bpy

VERSION = bpy.app.version
HAS_STRIPS = VERSION >= (4, 4, 0)
IS_5 = VERSION >= (5, 0, 0)
EEVEE = "BLENDER_EEVEE" if IS_5 else "BLENDER_EEVEE_NEXT"
WORKBENCH = "BLENDER_WORKBENCH"


def vse_strips(scene: Any) -> Any:
    """The top-level strip collection of `scene`'s sequencer (created if missing)."""
    editor = scene.sequence_editor or scene.sequence_editor_create()
    return editor.strips if HAS_STRIPS else editor.sequences


def vse_all_strips(scene: Any) -> Any:
    editor = scene.sequence_editor
    if editor is None:
        return []
    return editor.strips_all if HAS_STRIPS else editor.sequences_all


def strip_range(strip: Any) -> tuple[int, int]:
    """(first frame, frame after the last) as shown on the timeline."""
    if VERSION >= (5, 1, 0):
        return int(strip.left_handle), int(strip.right_handle)
    return int(strip.frame_final_start), int(strip.frame_final_end)


def ensure_sequencer_context(scene: Any) -> None:
    """5.0 runs VSE operators on the workspace's sequencer scene, not `context.scene`."""
    workspace = getattr(bpy.context, "workspace", None)
    if IS_5 and workspace is not None and hasattr(workspace, "sequencer_scene"):
        workspace.sequencer_scene = scene


def set_ffmpeg_h264(render: Any, quality: str = "HIGH") -> None:
    """H.264 in an MP4 container through Blender's FFmpeg output."""
    settings = render.image_settings
    if hasattr(settings, "media_type"):  # 5.0: the kind of output comes first
        settings.media_type = "VIDEO"
    settings.file_format = "FFMPEG"
    render.ffmpeg.format = "MPEG4"
    render.ffmpeg.codec = "H264"
    render.ffmpeg.constant_rate_factor = quality
    render.ffmpeg.ffmpeg_preset = "GOOD"
    render.ffmpeg.audio_codec = "NONE"


def compositor_tree(scene: Any, name: str) -> tuple[Any, Any]:
    """An empty compositor node tree for `scene` and the node whose first input becomes the render result
    (the Composite node, with its alpha used, up to 4.5; the Group Output of a one-colour node group in 5.0).
    Meant for a scene the caller made for itself: before 5.0 the scene's own tree is emptied."""
    if IS_5:
        tree = bpy.data.node_groups.new(name, "CompositorNodeTree")
        tree.interface.new_socket("Image", in_out="OUTPUT", socket_type="NodeSocketColor")
        scene.compositing_node_group = tree
        return tree, tree.nodes.new("NodeGroupOutput")
    scene.use_nodes = True
    tree = scene.node_tree
    tree.nodes.clear()
    output = tree.nodes.new("CompositorNodeComposite")
    output.use_alpha = True
    return tree, output


def remove_compositor_tree(tree: Any) -> None:
    """Drop a tree made by `compositor_tree` (in 5.0 it is a data-block of its own; before, the scene's)."""
    if IS_5 and tree.name in bpy.data.node_groups:
        bpy.data.node_groups.remove(tree)


def set_still_jpeg(render: Any, quality: int = 90) -> None:
    settings = render.image_settings
    if hasattr(settings, "media_type"):
        settings.media_type = "IMAGE"
    settings.file_format = "JPEG"
    settings.quality = quality


# Render settings a playblast changes and must give back, as (owner path, attribute). Order matters on
# restore: 5.0 refuses `file_format` values that do not belong to the current `media_type`.
RENDER_STATE = (
    ("render", "engine"),
    ("render", "filepath"),
    ("render", "resolution_percentage"),
    ("render", "use_file_extension"),
    ("render", "use_stamp"),
    ("render", "use_stamp_date"),
    ("render", "use_stamp_time"),
    ("render", "use_stamp_render_time"),
    ("render", "use_stamp_frame"),
    ("render", "use_stamp_frame_range"),
    ("render", "use_stamp_memory"),
    ("render", "use_stamp_hostname"),
    ("render", "use_stamp_camera"),
    ("render", "use_stamp_lens"),
    ("render", "use_stamp_scene"),
    ("render", "use_stamp_marker"),
    ("render", "use_stamp_filename"),
    ("render", "use_stamp_note"),
    ("render", "stamp_note_text"),
    ("render", "stamp_font_size"),
    ("render.image_settings", "media_type"),
    ("render.image_settings", "file_format"),
    ("render.image_settings", "color_mode"),
    ("render.image_settings", "quality"),
    ("render.ffmpeg", "format"),
    ("render.ffmpeg", "codec"),
    ("render.ffmpeg", "constant_rate_factor"),
    ("render.ffmpeg", "ffmpeg_preset"),
    ("render.ffmpeg", "audio_codec"),
    ("display", "render_aa"),
    ("", "frame_start"),
    ("", "frame_end"),
    ("", "frame_current"),
)


def _owner(scene: Any, path: str) -> Any:
    owner = scene
    for part in filter(None, path.split(".")):
        owner = getattr(owner, part)
    return owner


def snapshot_render_settings(scene: Any) -> list[tuple[str, str, Any]]:
    """The values of `RENDER_STATE` that exist in this Blender."""
    saved = []
    for path, name in RENDER_STATE:
        owner = _owner(scene, path)
        if hasattr(owner, name):
            saved.append((path, name, getattr(owner, name)))
    return saved


def restore_render_settings(scene: Any, saved: list[tuple[str, str, Any]]) -> None:
    """Put the snapshot back. An enum that was never set reads as "" and cannot be written back; it is
    left at the playblast's value (Blender shows such an enum as its first item anyway)."""
    for path, name, value in saved:
        owner = _owner(scene, path)
        if getattr(owner, name) == value:
            continue
        if value == "" and owner.bl_rna.properties[name].type == "ENUM":
            continue
        setattr(owner, name, value)


def camera_background(camera_data: Any, image: Any, alpha: float, in_front: bool) -> Any:
    """Show `image` behind (or over) the view through `camera_data`; returns the background entry."""
    camera_data.show_background_images = True
    entry = next((b for b in camera_data.background_images if b.image == image), None)
    if entry is None:
        entry = camera_data.background_images.new()
    entry.image = image
    entry.alpha = alpha
    entry.display_depth = "FRONT" if in_front else "BACK"
    entry.frame_method = "FIT"
    return entry


def load_reference_plane(image_path: str, name: str) -> Any:
    """An image on a plane mesh, built directly (the images-as-planes operator moved between 4.2 and 4.5)."""
    image = bpy.data.images.load(image_path, check_existing=True)
    width, height = image.size[:] if image.size[0] else (16, 9)
    mesh = bpy.data.meshes.new(name)
    half_w, half_h = 1.0, height / width
    mesh.from_pydata(
        [(-half_w, -half_h, 0), (half_w, -half_h, 0), (half_w, half_h, 0), (-half_w, half_h, 0)],
        [],
        [(0, 1, 2, 3)],
    )
    uv = mesh.uv_layers.new()
    for loop, coords in zip(uv.data, ((0, 0), (1, 0), (1, 1), (0, 1)), strict=True):
        loop.uv = coords
    material = bpy.data.materials.new(name)
    if not IS_5:  # 5.0 materials always have a node tree; `use_nodes` is deprecated there
        material.use_nodes = True
    nodes = material.node_tree.nodes
    texture = nodes.new("ShaderNodeTexImage")
    texture.image = image
    shader: Any = nodes.get("Principled BSDF")
    if shader is not None:
        material.node_tree.links.new(texture.outputs["Color"], shader.inputs["Base Color"])
    mesh.materials.append(material)
    return bpy.data.objects.new(name, mesh)
