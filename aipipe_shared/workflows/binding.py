"""Binding role values (prompt, seed, image, size, LoRAs ...) into a copy of a template's graph."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any, get_args

from .annotation import annotate
from .lora_chain import LoraChainError, insert_lora_chain
from .model import (
    INPUT_FILE_ROLES,
    INT_ROLES,
    LORA_PASSTHROUGH,
    SLOTTED_INPUT_ROLES,
    TEXT_ROLES,
    Role,
    TemplateBindError,
    WorkflowTemplate,
    is_link,
)


def bind(template: WorkflowTemplate, params: Mapping[str, Any]) -> dict[str, Any]:
    """Copy of the graph with the given roles' inputs set; nothing else changes (unused LoRA slots bypassed),
    but a template with `min_comfyui` or `expect` notes them in its first output's `_meta` (annotation.py).

    A role whose value is None keeps the template's default. A slotted input role (`reference_image`) takes
    one name or a list of names, filling its slots in order; unused slots are removed from the graph.
    Raises TemplateBindError naming the role.
    """
    unknown = sorted(set(params) - set(get_args(Role)))
    if unknown:
        raise TemplateBindError(f"unknown role(s) {unknown}; roles are {sorted(get_args(Role))}")
    graph = copy.deepcopy(template.graph)
    bindings = template.meta.bindings
    for role, value in params.items():
        if value is None:
            continue
        if role == "loras" or (role in SLOTTED_INPUT_ROLES and role in bindings):
            continue  # slots (below); LoRAs without slots: a chain after the model loaders
        if role not in bindings:
            raise TemplateBindError(
                f"template '{template.name}' has no binding for role '{role}' (it binds {sorted(bindings)})"
            )
        value = _coerce(role, value)
        for node_id, input_name in bindings[role]:
            graph[node_id]["inputs"][input_name] = value
    for role in sorted(SLOTTED_INPUT_ROLES & set(bindings)):
        _bind_slots(graph, template, role, params.get(role))  # type: ignore[arg-type]
    missing = [
        r
        for r in INPUT_FILE_ROLES
        if r in bindings and r not in SLOTTED_INPUT_ROLES and params.get(r) is None
    ]
    if missing:
        raise TemplateBindError(
            f"template '{template.name}' needs an uploaded input file for role(s) {missing}"
        )
    if "loras" in bindings:
        _bind_loras(graph, template, params.get("loras") or [])
    elif params.get("loras"):
        graph = _chain_loras(graph, template, params["loras"])
    given = {role for role, value in params.items() if value is not None}
    annotate(template, graph, given)  # the minimum ComfyUI, output checks and derived values, for the agent
    return graph


def role_targets(template: WorkflowTemplate, role: str, index: int = 0) -> list[list[str]]:
    """Where the `index`-th input of `role` goes: every target of the role, or for a slotted role
    (`reference_image`) its `index`-th slot. What a job's input's `targets` should be."""
    targets = template.meta.bindings.get(role) or []  # type: ignore[call-overload]
    if role in SLOTTED_INPUT_ROLES:
        if index >= len(targets):
            raise TemplateBindError(
                f"template '{template.name}' has {len(targets)} slot(s) for role '{role}', "
                f"got input {index + 1}"
            )
        return [list(targets[index])]
    return [list(t) for t in targets]


def _bind_slots(graph: dict[str, Any], template: WorkflowTemplate, role: str, value: Any) -> None:
    names = [] if value is None else [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise TemplateBindError(f"role '{role}' must be a file name or a list of file names")
    slots = template.meta.bindings[role]  # type: ignore[index]
    if len(names) > len(slots):
        raise TemplateBindError(
            f"template '{template.name}' has {len(slots)} slot(s) for role '{role}', got {len(names)}"
        )
    for (node_id, input_name), name in zip(slots, names, strict=False):
        graph[node_id]["inputs"][input_name] = name
    for node_id, _ in slots[len(names) :]:
        _remove_loader(graph, node_id)


def _remove_loader(graph: dict[str, Any], node_id: str) -> None:
    """Drop an unused input loader and the inputs linked to it (the sidecar binds only optional ones)."""
    graph.pop(node_id, None)
    for other in graph.values():
        inputs = other.get("inputs", {})
        for name in [n for n, v in inputs.items() if is_link(v) and str(v[0]) == node_id]:
            del inputs[name]


def _chain_loras(
    graph: dict[str, Any], template: WorkflowTemplate, loras: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """A template without LoRA slots gets a chain of LoRA loaders after its model loader(s)."""
    if not isinstance(loras, Sequence) or isinstance(loras, str):
        raise TemplateBindError("role 'loras' must be a list of {name, strength}")
    try:
        chained, _ = insert_lora_chain(graph, loras)
    except LoraChainError as exc:
        raise TemplateBindError(f"template '{template.name}': {exc}") from exc
    return chained


def _coerce(role: str, value: Any) -> Any:
    if role in TEXT_ROLES:
        if not isinstance(value, str):
            raise TemplateBindError(f"role '{role}' must be text, got {type(value).__name__}")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TemplateBindError(f"role '{role}' must be a number, got {type(value).__name__}")
    if role in INT_ROLES:
        if value != int(value):
            raise TemplateBindError(f"role '{role}' must be a whole number, got {value}")
        return int(value)
    return float(value)


def _bind_loras(
    graph: dict[str, Any], template: WorkflowTemplate, loras: Sequence[Mapping[str, Any]]
) -> None:
    slots = template.meta.bindings["loras"]
    if len(loras) > len(slots):
        raise TemplateBindError(
            f"template '{template.name}' has {len(slots)} LoRA slot(s), got {len(loras)} LoRAs"
        )
    for index, ((node_id, input_name), lora) in enumerate(zip(slots, loras, strict=False)):
        if not isinstance(lora, Mapping) or not isinstance(lora.get("name"), str):
            raise TemplateBindError(f"loras[{index}] must be an object with a 'name' (the LoRA file)")
        inputs = graph[node_id]["inputs"]
        inputs[input_name] = lora["name"]
        strength = lora.get("strength", 1.0)
        strengths = {"strength_model": strength, "strength_clip": lora.get("strength_clip", strength)}
        for strength_input, value in strengths.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TemplateBindError(f"loras[{index}] strength must be a number, got {value!r}")
            if strength_input in inputs:
                inputs[strength_input] = float(value)
    for node_id, _ in slots[len(loras) :]:
        _bypass(graph, node_id, template.name)


def _bypass(graph: dict[str, Any], node_id: str, template_name: str) -> None:
    """Remove a LoRA loader and wire its consumers to the model (and clip) it was fed."""
    node = graph.pop(node_id)
    for other_id, other in graph.items():
        for name, value in other.get("inputs", {}).items():
            if not (is_link(value) and str(value[0]) == node_id):
                continue
            source = node["inputs"].get(LORA_PASSTHROUGH.get(value[1], ""))
            if not is_link(source):
                raise TemplateBindError(
                    f"template '{template_name}': cannot bypass unused LoRA slot {node_id} "
                    f"feeding node {other_id} input '{name}'"
                )
            other["inputs"][name] = list(source)
