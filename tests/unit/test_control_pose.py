"""Pose images from character rigs (no Blender): bone names of Rigify, Mixamo and game rigs found as OpenPose
keypoints, the skeleton drawn in the OpenPose annotator's colours, RGB PNGs that Pillow reads back."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from blender_addon.control import png, pose

K = {name: i for i, name in enumerate(pose.KEYPOINTS)}


@pytest.mark.parametrize(
    ("name", "part"),
    [
        ("upper_arm.L", ("upper_arm", "left")),
        ("DEF-forearm.R", ("forearm", "right")),
        ("ORG-thigh.L", ("thigh", "left")),
        ("spine.004", ("neck", "")),
        ("spine.006", ("head", "")),
        ("mixamorig:LeftArm", ("upper_arm", "left")),
        ("mixamorig:RightForeArm", ("forearm", "right")),
        ("mixamorig:LeftUpLeg", ("thigh", "left")),
        ("mixamorig:RightLeg", ("shin", "right")),
        ("mixamorig:Neck", ("neck", "")),
        ("calf_l", ("shin", "left")),
        ("upperarm_r", ("upper_arm", "right")),
        ("neck_01", ("neck", "")),
        ("eye.L", ("eye", "left")),
        ("DEF-upper_arm.L.001", None),  # the second segment of a split bone: not the shoulder
        ("Root", None),
        ("hand", None),  # a hand without a side
        ("mixamorig:LeftShoulder", None),  # the clavicle
        ("f_index.01.L", None),
    ],
)
def test_bone_names_of_common_rigs(name: str, part: tuple[str, str] | None) -> None:
    assert pose.bone_part(name) == part


def _metarig() -> dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]]:
    """A Rigify-like rig standing at the origin, facing -Y (its left arm towards +X), in metres."""
    return {
        "spine.004": ((0.0, 0.0, 1.45), (0.0, 0.0, 1.55)),
        "spine.006": ((0.0, 0.0, 1.55), (0.0, 0.0, 1.8)),
        "upper_arm.L": ((0.2, 0.0, 1.45), (0.45, 0.0, 1.45)),
        "forearm.L": ((0.45, 0.0, 1.45), (0.7, 0.0, 1.45)),
        "hand.L": ((0.7, 0.0, 1.45), (0.8, 0.0, 1.45)),
        "upper_arm.R": ((-0.2, 0.0, 1.45), (-0.45, 0.0, 1.45)),
        "thigh.L": ((0.1, 0.0, 0.95), (0.1, 0.0, 0.5)),
        "shin.L": ((0.1, 0.0, 0.5), (0.1, 0.0, 0.08)),
        "foot.L": ((0.1, 0.0, 0.08), (0.1, -0.15, 0.0)),
        "DEF-upper_arm.L.001": ((0.32, 0.0, 1.45), (0.45, 0.0, 1.45)),
        "f_index.01.L": ((0.8, 0.0, 1.45), (0.85, 0.0, 1.45)),
    }


def test_keypoints_of_a_rig_are_the_heads_of_the_bones_below_each_joint() -> None:
    found = pose.keypoints_from_bones(_metarig())
    assert found[K["neck"]] == (0.0, 0.0, 1.45)
    assert found[K["nose"]] == pytest.approx((0.0, 0.0, 1.675))  # the head bone's middle: no nose bone
    assert found[K["left_shoulder"]] == (0.2, 0.0, 1.45)
    assert found[K["left_elbow"]] == (0.45, 0.0, 1.45)
    assert found[K["left_wrist"]] == (0.7, 0.0, 1.45)
    assert found[K["right_shoulder"]] == (-0.2, 0.0, 1.45)
    assert (found[K["left_hip"]], found[K["left_knee"]], found[K["left_ankle"]]) == (
        (0.1, 0.0, 0.95),
        (0.1, 0.0, 0.5),
        (0.1, 0.0, 0.08),
    )
    assert K["right_elbow"] not in found and K["left_eye"] not in found  # the rig has none
    # Without a neck bone the neck is where the head starts.
    headless_neck = {k: v for k, v in _metarig().items() if k != "spine.004"}
    assert pose.keypoints_from_bones(headless_neck)[K["neck"]] == (0.0, 0.0, 1.55)


def test_the_skeleton_is_drawn_in_openpose_colours() -> None:
    skeleton = {K["neck"]: (50.0, 20.0), K["right_shoulder"]: (30.0, 20.0), K["right_elbow"]: (30.0, 60.0)}
    picture = pose.draw_pose(100, 80, [skeleton], stick=3)
    assert picture.shape == (80, 100, 3) and picture.dtype == np.uint8
    # limb 0 (neck - right shoulder) at 60 % of colour 0; limb 2 (right shoulder - elbow) of colour 2
    assert tuple(picture[20, 40]) == tuple(int(c * pose.LIMB_SHADE) for c in pose.COLOURS[0])
    assert tuple(picture[40, 30]) == tuple(int(c * pose.LIMB_SHADE) for c in pose.COLOURS[2])
    # joints over the limbs at their own full colour
    assert tuple(picture[20, 50]) == pose.COLOURS[K["neck"]]
    assert tuple(picture[60, 30]) == pose.COLOURS[K["right_elbow"]]
    assert picture[70:, :].max() == 0 and picture[:, 60:].max() == 0  # black elsewhere
    # points out of the picture: what is inside is drawn, nothing fails
    cut = pose.draw_pose(100, 80, [{K["neck"]: (50.0, 40.0), K["nose"]: (50.0, -40.0)}])
    assert cut[0, 50].any() and cut[40, 50].any()
    with pytest.raises(ValueError, match="size"):
        pose.draw_pose(0, 10, [])


def test_rgb_png_reads_back_with_pillow_as_written(tmp_path) -> None:
    pixels = (np.arange(5 * 9 * 3).reshape(5, 9, 3) * 37 % 256).astype(np.uint8)
    path = png.write_rgb(str(tmp_path / "pose.png"), pixels)
    with Image.open(path) as image:
        assert image.mode == "RGB" and image.size == (9, 5)
        assert (np.array(image) == pixels).all()
    with pytest.raises(ValueError, match="H×W×3 uint8"):
        png.encode_rgb(np.zeros((2, 2), np.uint8))
