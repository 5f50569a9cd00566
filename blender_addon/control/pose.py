"""Pose images from character rigs, in numpy (no bpy): OpenPose body keypoints found by bone names, drawn
as the OpenPose ControlNets expect them (black background, the 17 limbs of the COCO-18 skeleton as coloured
sticks at 60 % of their colour, the joints as full-colour dots; the colours and order of the OpenPose
annotator).

`render.py` reads each armature's pose bones (world space, at the frame), projects the points through the
shot camera and calls `draw_pose`; everything here works on plain names, tuples and arrays.

Bone names of the common rigs are understood (sides: `.L`/`.R`, `_l`/`_r`, `Left`/`Right`, `left_`…):
Rigify and its metarig (`upper_arm.L`, `forearm.L`, `hand.L`, `thigh.L`, `shin.L`, `foot.L`, `neck` /
`spine.004`, `head` / `spine.006`, with `DEF-`/`ORG-` prefixes), Mixamo (`mixamorig:LeftArm`, `LeftForeArm`,
`LeftHand`, `LeftUpLeg`, `LeftLeg`, `LeftFoot`, `Neck`, `Head`) and the usual game rigs (`upperarm_l`,
`lowerarm_l`, `calf_l`, `thigh_l`). A joint is the head of the bone below it (the elbow is the head of the
forearm); the nose, eyes and ears come from `nose`/`eye`/`ear` bones where the rig has them, else the nose is
the middle of the head bone and the eyes and ears are left out (the ControlNets accept missing points).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

Point3 = tuple[float, float, float]
Point2 = tuple[float, float]

KEYPOINTS = (
    "nose",
    "neck",
    "right_shoulder",
    "right_elbow",
    "right_wrist",
    "left_shoulder",
    "left_elbow",
    "left_wrist",
    "right_hip",
    "right_knee",
    "right_ankle",
    "left_hip",
    "left_knee",
    "left_ankle",
    "right_eye",
    "left_eye",
    "right_ear",
    "left_ear",
)
"""The OpenPose COCO-18 body keypoints, in their order (the index is the keypoint's number)."""

LIMBS = (
    (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10),
    (1, 11), (11, 12), (12, 13), (1, 0), (0, 14), (14, 16), (0, 15), (15, 17),
)  # fmt: skip
"""The OpenPose annotator's limbs (keypoint index pairs), in its drawing order."""

COLOURS = (
    (255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0),
    (0, 255, 0), (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255),
    (0, 0, 255), (85, 0, 255), (170, 0, 255), (255, 0, 255), (255, 0, 170), (255, 0, 85),
)  # fmt: skip
"""The OpenPose annotator's colours (RGB): keypoint i and limb i are drawn in COLOURS[i]."""

LIMB_SHADE = 0.6
"""Limbs are drawn at this part of their colour, joints at the full colour (as the annotator does)."""

# Body parts by the words a bone's name holds once its prefix, side and separators are gone.
_PARTS: dict[str, tuple[str, ...]] = {
    "upper_arm": ("upperarm", "arm", "uparm"),
    "forearm": ("forearm", "lowerarm", "lowarm", "elbow"),
    "hand": ("hand", "wrist"),
    "thigh": ("thigh", "upleg", "upperleg"),
    "shin": ("shin", "calf", "leg", "lowerleg", "lowleg", "knee"),
    "foot": ("foot", "ankle"),
    "neck": ("neck", "neck01", "spine004"),
    "head": ("head", "spine006"),
    "nose": ("nose",),
    "eye": ("eye",),
    "ear": ("ear",),
}
_SIDED = ("upper_arm", "forearm", "hand", "thigh", "shin", "foot", "eye", "ear")
# (part, side) -> the keypoint its head is.
_JOINTS = {
    ("upper_arm", "right"): "right_shoulder",
    ("forearm", "right"): "right_elbow",
    ("hand", "right"): "right_wrist",
    ("upper_arm", "left"): "left_shoulder",
    ("forearm", "left"): "left_elbow",
    ("hand", "left"): "left_wrist",
    ("thigh", "right"): "right_hip",
    ("shin", "right"): "right_knee",
    ("foot", "right"): "right_ankle",
    ("thigh", "left"): "left_hip",
    ("shin", "left"): "left_knee",
    ("foot", "left"): "left_ankle",
    ("eye", "right"): "right_eye",
    ("eye", "left"): "left_eye",
    ("ear", "right"): "right_ear",
    ("ear", "left"): "left_ear",
    ("neck", ""): "neck",
    ("nose", ""): "nose",
}
_PREFIX = re.compile(r"^(?:mixamorig\d*:|def[-_.]|org[-_.]|mch[-_.]|bip\d*[ _])", re.IGNORECASE)
_SIDE_SUFFIX = re.compile(r"[._ -](l|r|left|right)$", re.IGNORECASE)
_SEGMENT = re.compile(r"[._ -](?:l|r|left|right)[._]\d+$", re.IGNORECASE)  # upper_arm.L.001: a segment
_SIDE_PREFIX = re.compile(r"^(Left|Right|L|R)(?=[._ -]|[A-Z])")  # LeftArm, L_arm, RHand (not Leg, Root)
_SIDE_WORD = re.compile(r"^(left|right)", re.IGNORECASE)


def bone_part(name: str) -> tuple[str, str] | None:
    """(part, side) of a bone name, side "left"/"right" (the character's own) or ""; None: not a body part
    the pose image draws (fingers, twist and control bones, spine segments …)."""
    rest = _PREFIX.sub("", name.strip())
    if _SEGMENT.search(rest):  # a further segment of a split bone: its head is not the joint
        return None
    side = ""
    if match := _SIDE_SUFFIX.search(rest):
        side, rest = match.group(1), rest[: match.start()]
    elif (match := _SIDE_PREFIX.match(rest)) or (match := _SIDE_WORD.match(rest)):
        side, rest = match.group(1), rest[match.end() :]
    side = {"l": "left", "r": "right"}.get(side.lower(), side.lower())
    word = re.sub(r"[^a-z0-9]", "", rest.lower())
    for part, words in _PARTS.items():
        if word in words:
            if (part in _SIDED) != bool(side):
                return None
            return part, side
    return None


def keypoints_from_bones(bones: Mapping[str, tuple[Point3, Point3]]) -> dict[int, Point3]:
    """OpenPose keypoints (index -> world point) of one rig from its bones' (head, tail) world points.

    The first bone found for a keypoint wins, in the order given, after deformation bones (`DEF-`) and before
    the rest: a Rigify rig's deform skeleton is the character's."""
    order = sorted(bones, key=lambda n: 0 if n.upper().startswith("DEF") else 1)
    found: dict[int, Point3] = {}
    head_bone: tuple[Point3, Point3] | None = None
    for name in order:
        part = bone_part(name)
        if part is None:
            continue
        head, tail = bones[name]
        if part[0] == "head":
            head_bone = head_bone or (head, tail)
            continue
        key = _JOINTS.get(part)
        if key is None:
            continue
        index = KEYPOINTS.index(key)
        if part[0] in ("eye", "ear"):  # the eye's or ear's middle, not its root
            point: Point3 = tuple((h + t) / 2 for h, t in zip(head, tail, strict=True))  # type: ignore[assignment]
        else:
            point = head
        found.setdefault(index, point)
    neck, nose = KEYPOINTS.index("neck"), KEYPOINTS.index("nose")
    if head_bone is not None:
        found.setdefault(neck, head_bone[0])  # no neck bone: the neck is where the head starts
        middle = tuple((h + t) / 2 for h, t in zip(*head_bone, strict=True))
        found.setdefault(nose, middle)  # type: ignore[arg-type]
    return found


def _fill_segment(canvas: np.ndarray, a: Point2, b: Point2, radius: float, colour: Sequence[int]) -> None:
    """Paint the pixels within `radius` of the segment a-b (a stick with round ends)."""
    height, width = canvas.shape[:2]
    x0 = max(int(math.floor(min(a[0], b[0]) - radius)), 0)
    x1 = min(int(math.ceil(max(a[0], b[0]) + radius)) + 1, width)
    y0 = max(int(math.floor(min(a[1], b[1]) - radius)), 0)
    y1 = min(int(math.ceil(max(a[1], b[1]) + radius)) + 1, height)
    if x0 >= x1 or y0 >= y1:
        return
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32) + 0.5  # pixel centres
    dx, dy = b[0] - a[0], b[1] - a[1]
    length2 = dx * dx + dy * dy
    t = np.zeros_like(xs) if length2 == 0 else np.clip(((xs - a[0]) * dx + (ys - a[1]) * dy) / length2, 0, 1)
    near = (xs - (a[0] + t * dx)) ** 2 + (ys - (a[1] + t * dy)) ** 2 <= radius * radius
    canvas[y0:y1, x0:x1][near] = colour


def draw_pose(
    width: int, height: int, skeletons: Iterable[Mapping[int, Point2]], stick: float | None = None
) -> np.ndarray:
    """An H×W×3 uint8 OpenPose image of `skeletons` (each: keypoint index -> pixel (x, y), top-left origin,
    points outside the picture allowed: what is inside is drawn). `stick`: the limbs' half width in pixels,
    default 4 at 512 pixels on the short side, scaled with the picture."""
    if width <= 0 or height <= 0:
        raise ValueError(f"a pose image needs a size, got {width}×{height}")
    canvas = np.zeros((height, width, 3), np.uint8)
    radius = stick if stick is not None else max(2.0, 4.0 * min(width, height) / 512)
    skeletons = list(skeletons)
    for skeleton in skeletons:
        for number, (i, j) in enumerate(LIMBS):
            if i in skeleton and j in skeleton:
                shade = [int(c * LIMB_SHADE) for c in COLOURS[number]]
                _fill_segment(canvas, skeleton[i], skeleton[j], radius, shade)
    for skeleton in skeletons:
        for index, point in skeleton.items():
            _fill_segment(canvas, point, point, radius, COLOURS[index])
    return canvas
