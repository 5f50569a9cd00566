"""Pure helpers of the stand-in's executor: order, cache keys, input resolution, message payloads."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

from PIL import Image


def execution_order(prompt: dict[str, Any], outputs: list[str]) -> list[str]:
    """Dependencies first, output nodes in id order (matches the captured order for linear graphs)."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(node_id: str) -> None:
        if node_id in seen:
            return
        seen.add(node_id)
        for value in prompt[node_id].get("inputs", {}).values():
            if isinstance(value, list) and len(value) == 2:
                visit(str(value[0]))
        order.append(node_id)

    for out in sorted(outputs, key=lambda n: (len(n), n)):
        visit(out)
    return order


def cache_keys(
    prompt: dict[str, Any], order: list[str], signature: Callable[[dict[str, Any]], Any]
) -> dict[str, str]:
    """A key per node from its class, literal inputs and its inputs' keys (ComfyUI's cache signature)."""
    keys: dict[str, str] = {}
    for node_id in order:
        node = prompt[node_id]
        inputs = {
            name: (["link", keys[str(v[0])], v[1]] if isinstance(v, list) and len(v) == 2 else v)
            for name, v in sorted(node.get("inputs", {}).items())
        }
        keys[node_id] = json.dumps([node["class_type"], inputs, signature(node)], sort_keys=True, default=str)
    return keys


def resolve_inputs(inputs: dict[str, Any], values: dict[str, tuple[Any, ...]]) -> dict[str, Any]:
    return {
        name: (values[str(v[0])][v[1]] if isinstance(v, list) and len(v) == 2 else v)
        for name, v in inputs.items()
    }


def current_inputs(inputs: dict[str, Any]) -> dict[str, list[Any]]:
    return {
        name: ([f"<linked output {v[1]} of node {v[0]}>"] if isinstance(v, list) else [v])
        for name, v in inputs.items()
    }


def node_state(prompt_id: str, node_id: str, state: str) -> dict[str, Any]:
    value = 1.0 if state == "finished" else 0.0
    return {
        "value": value,
        "max": 1.0,
        "state": state,
        "node_id": node_id,
        "prompt_id": prompt_id,
        "display_node_id": node_id,
        "parent_node_id": None,
        "real_node_id": node_id,
    }


def preview_frame() -> bytes:
    """Binary event 1 (PREVIEW_IMAGE), image type 2 (PNG), then the PNG bytes."""
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buffer, format="PNG")
    return (1).to_bytes(4, "big") + (2).to_bytes(4, "big") + buffer.getvalue()
