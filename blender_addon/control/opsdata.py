"""Pure helpers for control inputs (no bpy): upload form fields (what a control image or mask is rides in
the version's `provenance`), which file of a version is its picture, names of masks and control files,
labels of takes and references."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from ..i18n import iface

CONTROL_STAGE = "control"
MASK_STAGE = "mask"
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".exr", ".bmp")


def control_fields(kind: str, frame: int, camera: str, comment: str = "") -> dict[str, str]:
    """Form fields of a control version: the stage and its provenance (which control image it is; the
    server picks a shot's newest control image of a kind by `control_kind`), the frame and camera."""
    if kind not in ("depth", "canny", "pose"):
        raise ValueError(f"control kind must be depth, canny or pose, got {kind!r}")
    provenance = {"control_kind": kind, "frame": frame, "camera": camera, "source": "blender"}
    fields = {"stage": CONTROL_STAGE, "provenance": json.dumps(provenance)}
    if comment:
        fields["comment"] = comment
    return fields


def mask_fields(take_id: str, comment: str = "") -> dict[str, str]:
    """Form fields of a mask version: white = repaint, for the take `take_id`."""
    if not take_id:
        raise ValueError("a mask belongs to a take: source_version_id is missing")
    fields = {"stage": MASK_STAGE, "provenance": json.dumps({"source_version_id": take_id})}
    if comment:
        fields["comment"] = comment
    return fields


def is_image_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def picture_of(version: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The version's image file (a take holds one picture; thumbnails are not files of it)."""
    files: Sequence[Mapping[str, Any]] = version.get("files") or []
    return next((f for f in files if is_image_name(str(f.get("name", "")))), None)


def take_label(take: Mapping[str, Any]) -> str:
    """`v003 · approve · first frame`: a take as `GET /shots/{id}/takes` lists it, for a list row."""
    version = take.get("version") or {}
    parts = [str(version.get("code") or version.get("id", ""))]
    if take.get("verdict"):
        parts.append(str(take["verdict"]))
    if take.get("is_first_frame"):
        parts.append(iface("first frame"))
    return " · ".join(parts)


def mask_image_name(shot_code: str, take_code: str) -> str:
    return f"{shot_code}_{take_code}_mask"


def control_stem(shot_code: str, frame: int) -> str:
    return f"{shot_code or 'shot'}_control_f{frame}"


def cache_name(record: Mapping[str, Any]) -> str:
    """A file name for a downloaded picture that changes when its content does."""
    sha = str(record.get("sha256") or record.get("id") or "")[:16]
    name = os.path.basename(str(record.get("name") or "image.png"))
    return f"{sha}_{name}"


def reference_label(reference: Mapping[str, Any]) -> str:
    size = ""
    if reference.get("width") and reference.get("height"):
        size = f" ({reference['width']}×{reference['height']})"
    return f"{reference.get('name', '')}{size}"
