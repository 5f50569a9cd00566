"""Node classes newer than the captured ComfyUI 0.3.64 catalogue, for stand-ins that play a newer ComfyUI
or one with custom node packs installed.

`tests/data/comfyui/newer_nodes_object_info.json` holds their specs (inputs and outputs, written from each
node's source: LTX-2's nodes of ComfyUI 0.8.0, KJNodes' `WanImageToVideoSVIPro`, `RIFE VFI` of
ComfyUI-Frame-Interpolation). `with_nodes` adds the chosen ones to a catalogue in the full `/object_info`
shape (name, display_name, output_name ...), as such a host reports them.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

NEWER_NODES = Path(__file__).resolve().parents[1] / "data" / "comfyui" / "newer_nodes_object_info.json"
OUTPUT_NODES = frozenset()  # none of the newer classes saves files
LTX2_CLASSES = (
    "LTXAVTextEncoderLoader",
    "LTXVAudioVAELoader",
    "LTXVAudioVAEDecode",
    "LTXVEmptyLatentAudio",
    "LTXVImgToVideoInplace",
    "LTXVConcatAVLatent",
    "LTXVSeparateAVLatent",
    "LTXVLatentUpsampler",
    "LatentUpscaleModelLoader",
    "ManualSigmas",
    "ResizeImagesByLongerEdge",
)
"""The core classes ComfyUI 0.8.0 added that the LTX-2 template uses."""
KJNODES_CLASSES = ("WanImageToVideoSVIPro",)
FRAME_INTERPOLATION_CLASSES = ("RIFE VFI",)


def newer_specs() -> dict[str, Any]:
    """Class -> spec as stored (`input`, `output`, `source`)."""
    data = json.loads(NEWER_NODES.read_text(encoding="utf-8"))
    return {name: spec for name, spec in data.items() if not name.startswith("_")}


def object_info_entry(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    """One class in `/object_info`'s shape."""
    inputs = copy.deepcopy(spec["input"])
    outputs = list(spec.get("output") or [])
    return {
        "input": inputs,
        "input_order": {category: list(names) for category, names in inputs.items()},
        "output": outputs,
        "output_is_list": [False] * len(outputs),
        "output_name": list(outputs),
        "name": name,
        "display_name": name,
        "description": "",
        "python_module": "custom_nodes"
        if name in (*KJNODES_CLASSES, *FRAME_INTERPOLATION_CLASSES)
        else "comfy_extras",
        "category": "stand-in",
        "output_node": name in OUTPUT_NODES,
    }


def with_nodes(object_info: dict[str, Any], classes: Iterable[str]) -> dict[str, Any]:
    """A copy of the catalogue with the named newer classes added; KeyError names an unknown one."""
    specs = newer_specs()
    info = dict(object_info)
    for name in classes:
        info[name] = object_info_entry(name, specs[name])
    return info
