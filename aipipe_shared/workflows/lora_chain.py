"""Insert LoRAs into a ComfyUI API-format graph as a chain of LoRA loader nodes.

After every model loader whose MODEL output is used (UNETLoader, CheckpointLoaderSimple, ...), one
loader per LoRA is chained: `LoraLoaderModelOnly` when the loader's CLIP is not used by the graph
(FLUX, Wan and LTX load their text encoders apart), `LoraLoader` (model and CLIP) when it is. Everything
that used the loader's MODEL (and CLIP) now uses the end of the chain. A graph with two diffusion models
(Wan 2.2's high- and low-noise experts) gets the chain after each. The input graph is not changed.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

# class_type -> (MODEL output index, CLIP output index or None)
MODEL_LOADERS: dict[str, tuple[int, int | None]] = {
    "UNETLoader": (0, None),
    "UnetLoaderGGUF": (0, None),
    "CheckpointLoaderSimple": (0, 1),
    "CheckpointLoader": (0, 1),
    "unCLIPCheckpointLoader": (0, 1),
    "ImageOnlyCheckpointLoader": (0, None),
}
STRENGTH_RANGE = (-100.0, 100.0)  # LoraLoader's strength_model / strength_clip in object_info


class LoraChainError(ValueError):
    """LoRAs that cannot be inserted; the message names the LoRA (by index) or the graph's problem."""


def _check(loras: Sequence[Mapping[str, Any]]) -> list[tuple[str, float, float]]:
    checked = []
    for index, lora in enumerate(loras):
        if not isinstance(lora, Mapping) or not isinstance(lora.get("name"), str) or not lora["name"].strip():
            raise LoraChainError(f"loras[{index}] must be an object with a 'name' (the LoRA file)")
        strengths = []
        for key in ("strength", "strength_clip"):
            value = lora.get(key, lora.get("strength", 1.0))
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise LoraChainError(f"loras[{index}].{key} must be a number, got {value!r}")
            if not STRENGTH_RANGE[0] <= value <= STRENGTH_RANGE[1]:
                raise LoraChainError(f"loras[{index}].{key} {value} is outside {STRENGTH_RANGE}")
            strengths.append(float(value))
        checked.append((lora["name"].strip(), strengths[0], strengths[1]))
    return checked


def _links_to(value: Any, node_id: str, index: int) -> bool:
    return isinstance(value, list) and len(value) == 2 and str(value[0]) == node_id and value[1] == index


def _consumers(graph: Mapping[str, Any], node_id: str, index: int) -> list[tuple[str, str]]:
    return [
        (other_id, name)
        for other_id, other in graph.items()
        for name, value in other.get("inputs", {}).items()
        if _links_to(value, node_id, index)
    ]


def _next_ids(graph: Mapping[str, Any]) -> Any:
    number = max((int(k) for k in graph if str(k).isdigit()), default=0) + 1
    while True:
        if str(number) not in graph:
            yield str(number)
        number += 1


def insert_lora_chain(
    graph: Mapping[str, Any], loras: Sequence[Mapping[str, Any]]
) -> tuple[dict[str, Any], list[str]]:
    """A copy of `graph` with the LoRAs chained after each used model loader, and the new node ids."""
    checked = _check(loras)
    out = copy.deepcopy(dict(graph))
    if not checked:
        return out, []
    sources = sorted(
        (node_id for node_id, node in graph.items() if node.get("class_type") in MODEL_LOADERS),
        key=lambda k: (not str(k).isdigit(), int(k) if str(k).isdigit() else 0, str(k)),
    )
    ids = _next_ids(out)
    added: list[str] = []
    for source_id in sources:
        model_out, clip_out = MODEL_LOADERS[graph[source_id]["class_type"]]
        model_users = _consumers(graph, source_id, model_out)
        if not model_users:
            continue
        clip_users = _consumers(graph, source_id, clip_out) if clip_out is not None else []
        model_link: list[Any] = [source_id, model_out]
        clip_link: list[Any] = [source_id, clip_out]
        for name, strength, strength_clip in checked:
            node_id = next(ids)
            if clip_users:
                node = {
                    "class_type": "LoraLoader",
                    "inputs": {
                        "model": model_link,
                        "clip": clip_link,
                        "lora_name": name,
                        "strength_model": strength,
                        "strength_clip": strength_clip,
                    },
                    "_meta": {"title": f"LoRA {name}"},
                }
                model_link, clip_link = [node_id, 0], [node_id, 1]
            else:
                node = {
                    "class_type": "LoraLoaderModelOnly",
                    "inputs": {"model": model_link, "lora_name": name, "strength_model": strength},
                    "_meta": {"title": f"LoRA {name}"},
                }
                model_link = [node_id, 0]
            out[node_id] = node
            added.append(node_id)
        for user_id, input_name in model_users:
            out[user_id]["inputs"][input_name] = list(model_link)
        for user_id, input_name in clip_users:
            out[user_id]["inputs"][input_name] = list(clip_link)
    if not added:
        known = ", ".join(sorted(MODEL_LOADERS))
        raise LoraChainError(
            f"the graph has no model loader ({known}) whose model is used: nowhere to add LoRAs"
        )
    return out, added
