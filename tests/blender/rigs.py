"""A character rig for the pose-image tests: an armature with Rigify metarig bone names (neck, head, arms,
legs), standing upright at a location, facing -Y (its left side towards +X)."""

from __future__ import annotations

import bpy

BONES = {  # name: (head, tail), in the armature's space (metres)
    "spine.004": ((0.0, 0.0, 1.45), (0.0, 0.0, 1.55)),
    "spine.006": ((0.0, 0.0, 1.55), (0.0, 0.0, 1.8)),
    "upper_arm.L": ((0.2, 0.0, 1.45), (0.45, 0.0, 1.45)),
    "forearm.L": ((0.45, 0.0, 1.45), (0.7, 0.0, 1.45)),
    "hand.L": ((0.7, 0.0, 1.45), (0.8, 0.0, 1.45)),
    "upper_arm.R": ((-0.2, 0.0, 1.45), (-0.45, 0.0, 1.45)),
    "forearm.R": ((-0.45, 0.0, 1.45), (-0.7, 0.0, 1.45)),
    "hand.R": ((-0.7, 0.0, 1.45), (-0.8, 0.0, 1.45)),
    "thigh.L": ((0.1, 0.0, 0.95), (0.1, 0.0, 0.5)),
    "shin.L": ((0.1, 0.0, 0.5), (0.1, 0.0, 0.08)),
    "foot.L": ((0.1, 0.0, 0.08), (0.1, -0.15, 0.0)),
    "thigh.R": ((-0.1, 0.0, 0.95), (-0.1, 0.0, 0.5)),
    "shin.R": ((-0.1, 0.0, 0.5), (-0.1, 0.0, 0.08)),
    "foot.R": ((-0.1, 0.0, 0.08), (-0.1, -0.15, 0.0)),
}


def metarig(
    scene: bpy.types.Scene, location: tuple[float, float, float], name: str = "RIG"
) -> bpy.types.Object:
    """The rig, linked into `scene`'s master collection (made in edit mode, left in object mode)."""
    armature = bpy.data.armatures.new(name)
    rig = bpy.data.objects.new(name, armature)
    rig.location = location
    scene.collection.objects.link(rig)
    with bpy.context.temp_override(scene=scene, view_layer=scene.view_layers[0], active_object=rig):
        scene.view_layers[0].objects.active = rig
        bpy.ops.object.mode_set(mode="EDIT")
        for bone, (head, tail) in BONES.items():
            edit = armature.edit_bones.new(bone)
            edit.head, edit.tail = head, tail
        bpy.ops.object.mode_set(mode="OBJECT")
    return rig
