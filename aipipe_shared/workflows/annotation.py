"""What a bound graph carries for the agent that runs it: the template's minimum ComfyUI version, the
output checks and the values to derive from an input (RIFE's fps = the source's x factor), with their role
values resolved (`factor` -> 2), under `_meta.aipipe` of the first output node.

ComfyUI ignores `_meta` (it holds the node titles of an API export), so the graph is sent as it is; the agent
reads the note to refuse a job its ComfyUI is too old for and to check the output video's frames, fps and
size against the input's after the run (`render_agent.frame_check`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from .model import (
    INT_ROLES,
    Measured,
    MeasuredFrames,
    TemplateBindError,
    WorkflowTemplate,
    parse_version,
)

NOTE_KEY = "aipipe"


def annotate(template: WorkflowTemplate, graph: dict[str, Any], given: Collection[str] = ()) -> None:
    """Write the note into the bound `graph` (a copy) when the template has something to say. Roles in
    `given` (the job's parameters) are not derived by the agent."""
    meta = template.meta
    derive = {role: m for role, m in meta.derive.items() if role not in given}
    if not meta.min_comfyui and meta.expect is None and not derive:
        return
    note: dict[str, Any] = {"workflow": template.name}
    if meta.min_comfyui:
        note["min_comfyui"] = meta.min_comfyui
    if derive:
        note["derive"] = {
            role: {
                **_resolved(template, graph, measured),
                "targets": [list(t) for t in meta.bindings[role]],  # type: ignore[index]
                "int": role in INT_ROLES,
            }
            for role, measured in derive.items()
        }
    if meta.expect is not None:
        expect: dict[str, Any] = {}
        for prop in ("frames", "fps", "size"):
            measured = getattr(meta.expect, prop)
            if measured is not None:
                expect[prop] = _resolved(template, graph, measured)
        note["expect"] = expect
    output = graph[meta.outputs[0]]
    output["_meta"] = {**(output.get("_meta") or {}), NOTE_KEY: note}


def note_of(graph: Mapping[str, Any]) -> dict[str, Any] | None:
    """The note `annotate` wrote, or None."""
    for node in graph.values():
        note = (node.get("_meta") or {}).get(NOTE_KEY) if isinstance(node, Mapping) else None
        if isinstance(note, dict):
            return note
    return None


def comfyui_too_old(graph: Mapping[str, Any], version: str | None) -> str | None:
    """Why a ComfyUI of `version` cannot run the graph (older than its template's minimum), or None (also
    when either version is unknown)."""
    note = note_of(graph) or {}
    wanted = parse_version(str(note.get("min_comfyui") or ""))
    have = parse_version(version or "")
    if wanted is None or have is None or have >= wanted:
        return None
    return (
        f"workflow '{note.get('workflow', '?')}' needs ComfyUI >= {note['min_comfyui']}; "
        f"this agent's ComfyUI is {version}"
    )


def _resolved(template: WorkflowTemplate, graph: dict[str, Any], measured: Measured) -> dict[str, Any]:
    """`{"from": role, "multiply": k}` (the agent measures that input) or `{"value": v}` (a role's value)."""
    factor = _number(template, graph, measured.multiply)
    if measured.role is not None:
        return {"value": _number(template, graph, measured.role) * factor}
    out: dict[str, Any] = {"from": measured.source, "multiply": factor}
    if isinstance(measured, MeasuredFrames):
        out["between"] = measured.between
    return out


def _number(template: WorkflowTemplate, graph: dict[str, Any], value: float | str) -> float:
    if not isinstance(value, str):
        return value
    node_id, input_name = template.meta.bindings[value][0]  # type: ignore[index]
    bound = graph[node_id]["inputs"][input_name]
    if isinstance(bound, bool) or not isinstance(bound, int | float) or bound <= 0:
        raise TemplateBindError(f"role '{value}' must be a positive number, got {bound!r}")
    return bound
