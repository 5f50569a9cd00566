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


def blend_source(params: dict[str, Any]) -> tuple[str, str | None]:
    """The layout .blend a Blender job renders: (its URL on the server, its sha256 if given)."""
    blend_url = params.get("blend_url")
    if not isinstance(blend_url, str) or not blend_url:
        raise CpuJobError(
            "params.blend_url: the URL of the .blend on the server is required", retryable=False
        )
    sha = params.get("blend_sha256")
    return blend_url, sha if isinstance(sha, str) else None


def output_name(params: dict[str, Any], default: str, suffix: str, what: str) -> str:
    """`params.output_name` (or `default`): a plain file name ending in `suffix`."""
    name = params.get("output_name") or default
    if not isinstance(name, str) or PurePosixPath(name).name != name:
        raise CpuJobError("params.output_name: must be a plain file name", retryable=False)
    if not name.lower().endswith(suffix):
        raise CpuJobError(
            f"params.output_name: {what} is a{'n' if suffix == '.mp4' else ''} {suffix}", retryable=False
        )
    return name


def whole_frames(params: dict[str, Any], keys: tuple[str, ...]) -> dict[str, int | None]:
    """Each of `keys` as a frame number, or None when not given."""
    frames: dict[str, int | None] = {}
    for key in keys:
        value = params.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise CpuJobError(f"params.{key}: must be a whole frame number", retryable=False)
        frames[key] = value
    return frames


def texts(params: dict[str, Any], keys: tuple[str, ...]) -> dict[str, str]:
    """Each of `keys` as text ("" when not given)."""
    found: dict[str, str] = {}
    for key in keys:
        value = params.get(key)
        if value is not None and not isinstance(value, str):
            raise CpuJobError(f"params.{key}: must be text", retryable=False)
        found[key] = value or ""
    return found


def plan_playblast(job: dict[str, Any]) -> PlayblastPlan:
    """Read and check a playblast job's params; CpuJobError (not retryable) names the bad field."""
    params = job.get("params") or {}
    blend_url, blend_sha256 = blend_source(params)
    name = output_name(params, "playblast.mp4", ".mp4", "a playblast")
    frames = whole_frames(params, ("start", "end"))
    if frames["start"] is not None and frames["end"] is not None and frames["end"] < frames["start"]:
        raise CpuJobError("params.end: comes before params.start", retryable=False)
    text = texts(params, _TEXT_PARAMS)
    return PlayblastPlan(
        blend_url=blend_url,
        blend_sha256=blend_sha256,
        output_name=name,
        scene=text["scene"] or None,
        start=frames["start"],
        end=frames["end"],
        shot=text["shot"],
        version=text["version"],
        artist=text["artist"],
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


def addon_command(blender: str, module: str, args: list[str]) -> list[str]:
    """The command that runs the extension's `module` (its `__main__.main(args)`) in `blender`, never
    through a shell: `python -m module` for a Python with bpy, else Blender in background."""
    if is_python(blender):
        return [blender, "-m", module, *args]
    expr = (
        f"import sys; from {module}.__main__ import main; "
        f"sys.exit(main({json.dumps(args, ensure_ascii=False)}))"
    )
    return [blender, "-b", "--factory-startup", "--python-exit-code", "2", "--python-expr", expr]


def blender_command(blender: str, plan: PlayblastPlan, blend: Path, output: Path) -> list[str]:
    """The command that renders `blend` into `output`, never through a shell."""
    return addon_command(blender, "blender_addon.playblast", _arguments(plan, blend, output))


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
