"""Pure helpers for sending shots to render (no bpy): the request body, job states, what to load."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..i18n import iface

FINISHED = ("succeeded", "failed", "cancelled")


def render_body(workflow: str, priority: int, seed: int, params_json: str) -> dict[str, Any]:
    """The `POST /api/shots/{id}/render` body; `params_json` must be a JSON object (field `params`)."""
    body: dict[str, Any] = {"priority": int(priority)}
    if workflow and workflow != "NONE":
        body["workflow"] = workflow
    if seed > 0:
        body["seed"] = int(seed)
    text = params_json.strip()
    if text:
        try:
            params = json.loads(text)
        except ValueError as exc:
            raise ValueError(iface("params: not valid JSON ({error})", error=exc)) from exc
        if not isinstance(params, dict):
            raise ValueError(iface("params: must be a JSON object, e.g. {example}", example='{"length": 49}'))
        body["params"] = params
    return body


def is_active(job: Mapping[str, Any]) -> bool:
    return job.get("status") not in FINISHED


def job_line(job: Mapping[str, Any]) -> str:
    """``wan21_i2v_480p  running 40%  sampling`` for the panel."""
    pct = f"{round(float(job.get('progress') or 0) * 100)}%"
    parts = [
        str(job.get("workflow") or job.get("type")),
        str(job.get("status")),
        pct,
        str(job.get("stage_text") or ""),
    ]
    if job.get("error"):
        parts.append(str(job["error"])[:80])
    return "  ".join(p for p in parts if p)


def media_file(version: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The version's first movie (else image) file, the one to load into Blender."""
    files = list(version.get("files") or [])
    for kind in ("video", "image"):
        for file in files:
            if (file.get("media") or {}).get("kind") == kind or str(file.get("mime", "")).startswith(kind):
                return file
    return None
