"""CPU job type `playblast`: a headless Blender renders a layout .blend into an H.264 mp4 with burn-ins.

Params (docs/render-agent.md): `{"blend_url": "/api/…", "blend_sha256": "…", "scene": "…",
"start": 1001, "end": 1072, "shot": "SHT_0010", "version": "v003", "artist": "rina",
"output_name": "SHT_0010_playblast.mp4"}` — only `blend_url` is required. The render itself is the
Blender extension's (`python -m blender_addon.playblast`), run by the Blender the agent is configured with
(`AIPIPE_AGENT_BLENDER`): a Blender executable, or a Python interpreter that has the `bpy` module.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from render_agent.cpu_jobs import STDERR_TAIL, CpuJobError

log = logging.getLogger(__name__)

PLAYBLAST = "playblast"
_TEXT_PARAMS = ("scene", "shot", "version", "artist")


@dataclass(frozen=True)
class PlayblastPlan:
    blend_url: str
    blend_sha256: str | None
    output_name: str
    scene: str | None = None
    start: int | None = None
    end: int | None = None
    shot: str = ""
    version: str = ""
    artist: str = ""


def plan_playblast(job: dict[str, Any]) -> PlayblastPlan:
    """Read and check a playblast job's params; CpuJobError (not retryable) names the bad field."""
    params = job.get("params") or {}
    blend_url = params.get("blend_url")
    if not isinstance(blend_url, str) or not blend_url:
        raise CpuJobError(
            "params.blend_url: the URL of the .blend on the server is required", retryable=False
        )
    output_name = params.get("output_name") or "playblast.mp4"
    if not isinstance(output_name, str) or PurePosixPath(output_name).name != output_name:
        raise CpuJobError("params.output_name: must be a plain file name", retryable=False)
    if not output_name.lower().endswith(".mp4"):
        raise CpuJobError("params.output_name: a playblast is an .mp4", retryable=False)
    frames: dict[str, int | None] = {}
    for key in ("start", "end"):
        value = params.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise CpuJobError(f"params.{key}: must be a whole frame number", retryable=False)
        frames[key] = value
    if frames["start"] is not None and frames["end"] is not None and frames["end"] < frames["start"]:
        raise CpuJobError("params.end: comes before params.start", retryable=False)
    texts: dict[str, str] = {}
    for key in _TEXT_PARAMS:
        value = params.get(key)
        if value is not None and not isinstance(value, str):
            raise CpuJobError(f"params.{key}: must be text", retryable=False)
        texts[key] = value or ""
    sha = params.get("blend_sha256")
    return PlayblastPlan(
        blend_url=blend_url,
        blend_sha256=sha if isinstance(sha, str) else None,
        output_name=output_name,
        scene=texts["scene"] or None,
        start=frames["start"],
        end=frames["end"],
        shot=texts["shot"],
        version=texts["version"],
        artist=texts["artist"],
    )


def _arguments(plan: PlayblastPlan, blend: Path, output: Path) -> list[str]:
    args = [str(blend), "--output", str(output), "--thumbnail", str(output.with_suffix(".jpg"))]
    if plan.scene:
        args += ["--scene", plan.scene]
    if plan.start is not None:
        args += ["--start", str(plan.start)]
    if plan.end is not None:
        args += ["--end", str(plan.end)]
    for key in ("shot", "version", "artist"):
        if getattr(plan, key):
            args += [f"--{key}", getattr(plan, key)]
    return args


def is_python(blender: str) -> bool:
    """A Python interpreter with `bpy` (e.g. a virtual environment with the bpy wheel), not Blender itself."""
    return Path(blender).name.lower().startswith("python")


def blender_command(blender: str, plan: PlayblastPlan, blend: Path, output: Path) -> list[str]:
    """The command that renders `blend` into `output`, never through a shell."""
    args = _arguments(plan, blend, output)
    if is_python(blender):
        return [blender, "-m", "blender_addon.playblast", *args]
    expr = (
        "import sys; from blender_addon.playblast.__main__ import main; "
        f"sys.exit(main({json.dumps(args, ensure_ascii=False)}))"
    )
    return [blender, "-b", "--factory-startup", "--python-exit-code", "2", "--python-expr", expr]


def _environment() -> dict[str, str]:
    # The extension's code comes from this installation, whatever the Blender's own Python has. It is found,
    # not imported: the agent never imports the add-on (or anything that needs bpy).
    spec = importlib.util.find_spec("blender_addon")
    if spec is None or spec.origin is None:
        raise CpuJobError("the Blender extension (package blender_addon) is not installed beside this agent")
    root = str(Path(spec.origin).resolve().parent.parent)
    current = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": root + (os.pathsep + current if current else "")}


async def run_playblast(
    command: list[str], output: Path, on_stage: Callable[[str], None], stage: str = "playblast (Blender)"
) -> tuple[Path, dict[str, Any]]:
    """Run the headless render; returns its output file (the mp4, or a control image) and what the renderer
    reported. Cancelling kills it."""
    output.parent.mkdir(parents=True, exist_ok=True)
    log.info("running %s", " ".join(command))
    on_stage(stage)
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=_environment()
    )
    try:
        stdout, stderr = await process.communicate()
    except asyncio.CancelledError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise
    if process.returncode != 0:
        tail = stderr.decode("utf-8", "replace")[-STDERR_TAIL:].strip()
        raise CpuJobError(f"Blender exited with {process.returncode}: {tail}", retryable=False)
    report: dict[str, Any] = {}
    for line in reversed(stdout.decode("utf-8", "replace").splitlines()):
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                report = json.loads(line)
                break
    if not output.is_file() or output.stat().st_size == 0:
        raise CpuJobError(f"Blender wrote no {output.name}", retryable=False)
    return output, report
