"""What a bound graph carries for the agent that runs it: the template's minimum ComfyUI version and the
output checks with their role values resolved (`factor` -> 2), under `_meta.aipipe` of the first output node.

ComfyUI ignores `_meta` (it holds the node titles of an API export), so the graph is sent as it is; the agent
reads the note to refuse a job its ComfyUI is too old for and to check the output video's frames, fps and
size against the input's after the run (`render_agent.frame_check`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .model import Measured, MeasuredFrames, TemplateBindError, WorkflowTemplate, parse_version

NOTE_KEY = "aipipe"


def annotate(template: WorkflowTemplate, graph: dict[str, Any]) -> None:
    """Write the note into the bound `graph` (a copy) when the template has something to say."""
    meta = template.meta
    if not meta.min_comfyui and meta.expect is None:
        return
    note: dict[str, Any] = {"workflow": template.name}
    if meta.min_comfyui:
        note["min_comfyui"] = meta.min_comfyui
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
    factor = measured.multiply
    if isinstance(factor, str):
        node_id, input_name = template.meta.bindings[factor][0]  # type: ignore[index]
        factor = graph[node_id]["inputs"][input_name]
        if isinstance(factor, bool) or not isinstance(factor, int | float) or factor <= 0:
            raise TemplateBindError(f"role '{measured.multiply}' must be a positive number, got {factor!r}")
    out: dict[str, Any] = {"from": measured.source, "multiply": factor}
    if isinstance(measured, MeasuredFrames):
        out["between"] = measured.between
    return out
