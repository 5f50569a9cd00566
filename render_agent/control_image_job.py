"""CPU job type `control_image`: a headless Blender renders one control image (depth, canny lines or pose)
of a layout .blend from its shot camera, as the add-on's *Render and upload control images* does.

Params (docs/render-agent.md): `{"blend_url": "/api/…", "blend_sha256": "…", "kind": "depth", "scene": "…",
"shot": "SHT_0010", "frame": 1001, "bits": 8, "output_name": "SHT_0010_control_depth.png"}` — `blend_url` and
`kind` are required. The render is the Blender extension's (`python -m blender_addon.control`), run by the
Blender the agent is configured with (`AIPIPE_AGENT_BLENDER`), like a playblast.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from render_agent.cpu_jobs import CpuJobError
from render_agent.playblast_job import is_python

CONTROL_IMAGE = "control_image"
KINDS = ("depth", "canny", "pose")


@dataclass(frozen=True)
class ControlImagePlan:
    blend_url: str
    blend_sha256: str | None
    kind: str
    output_name: str
    scene: str | None = None
    shot: str = ""
    frame: int | None = None
    bits: int = 8


def plan_control_image(job: dict[str, Any]) -> ControlImagePlan:
    """Read and check a control_image job's params; CpuJobError (not retryable) names the bad field."""
    params = job.get("params") or {}
    blend_url = params.get("blend_url")
    if not isinstance(blend_url, str) or not blend_url:
        raise CpuJobError(
            "params.blend_url: the URL of the .blend on the server is required", retryable=False
        )
    kind = params.get("kind")
    if kind not in KINDS:
        raise CpuJobError(f"params.kind: one of {', '.join(KINDS)}, got {kind!r}", retryable=False)
    output_name = params.get("output_name") or f"control_{kind}.png"
    if not isinstance(output_name, str) or PurePosixPath(output_name).name != output_name:
        raise CpuJobError("params.output_name: must be a plain file name", retryable=False)
    if not output_name.lower().endswith(".png"):
        raise CpuJobError("params.output_name: a control image is a .png", retryable=False)
    frame = params.get("frame")
    if frame is not None and (not isinstance(frame, int) or isinstance(frame, bool)):
        raise CpuJobError("params.frame: must be a whole frame number", retryable=False)
    bits = params.get("bits", 8)
    if bits not in (8, 16) or isinstance(bits, bool):
        raise CpuJobError("params.bits: 8 or 16", retryable=False)
    texts: dict[str, str] = {}
    for key in ("scene", "shot"):
        value = params.get(key)
        if value is not None and not isinstance(value, str):
            raise CpuJobError(f"params.{key}: must be text", retryable=False)
        texts[key] = value or ""
    sha = params.get("blend_sha256")
    return ControlImagePlan(
        blend_url=blend_url,
        blend_sha256=sha if isinstance(sha, str) else None,
        kind=kind,
        output_name=output_name,
        scene=texts["scene"] or None,
        shot=texts["shot"],
        frame=frame,
        bits=bits,
    )


def control_image_command(blender: str, plan: ControlImagePlan, blend: Path, output: Path) -> list[str]:
    """The command that renders `plan.kind` of `blend` into `output`, never through a shell."""
    args = [str(blend), "--kind", plan.kind, "--output", str(output), "--bits", str(plan.bits)]
    if plan.scene:
        args += ["--scene", plan.scene]
    if plan.shot:
        args += ["--shot", plan.shot]
    if plan.frame is not None:
        args += ["--frame", str(plan.frame)]
    if is_python(blender):
        return [blender, "-m", "blender_addon.control", *args]
    expr = (
        "import sys; from blender_addon.control.__main__ import main; "
        f"sys.exit(main({json.dumps(args, ensure_ascii=False)}))"
    )
    return [blender, "-b", "--factory-startup", "--python-exit-code", "2", "--python-expr", expr]
