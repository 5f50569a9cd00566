"""CPU job type `control_image`: a headless Blender renders one control image (depth, canny lines or pose)
of a layout .blend from its shot camera, as the add-on's *Render and upload control images* does.

Params (docs/render-agent.md): `{"blend_url": "/api/…", "blend_sha256": "…", "kind": "depth", "scene": "…",
"shot": "SHT_0010", "frame": 1001, "bits": 8, "output_name": "SHT_0010_control_depth.png"}` — `blend_url` and
`kind` are required. The render is the Blender extension's (`python -m blender_addon.control`), run by the
Blender the agent is configured with (`AIPIPE_AGENT_BLENDER`), like a playblast.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from render_agent.cpu_jobs import CpuJobError
from render_agent.playblast_job import addon_command, blend_source, output_name, texts, whole_frames

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
    blend_url, blend_sha256 = blend_source(params)
    kind = params.get("kind")
    if kind not in KINDS:
        raise CpuJobError(f"params.kind: one of {', '.join(KINDS)}, got {kind!r}", retryable=False)
    name = output_name(params, f"control_{kind}.png", ".png", "a control image")
    frame = whole_frames(params, ("frame",))["frame"]
    bits = params.get("bits", 8)
    if bits not in (8, 16) or isinstance(bits, bool):
        raise CpuJobError("params.bits: 8 or 16", retryable=False)
    text = texts(params, ("scene", "shot"))
    return ControlImagePlan(
        blend_url=blend_url,
        blend_sha256=blend_sha256,
        kind=kind,
        output_name=name,
        scene=text["scene"] or None,
        shot=text["shot"],
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
    return addon_command(blender, "blender_addon.control", args)
