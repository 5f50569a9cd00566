"""CPU job types that run without ComfyUI: `transcode` and `proxy`, one ffmpeg call each.

Params: `{"input_url": "/api/…", "args": ["-vf", "scale=960:-2", …], "output_name": "proxy.mp4"}`
(`input_sha256` and `output_name` optional). The command is `ffmpeg -i <input> <args…> <output>`,
never through a shell; ffmpeg is the one imageio-ffmpeg ships.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

log = logging.getLogger(__name__)

CPU_JOB_TYPES = (
    "transcode",
    "proxy",
    "dailies",  # render_agent.dailies_job
    "conform",  # render_agent.delivery_jobs
    "master",  # render_agent.delivery_jobs
)
STDERR_TAIL = 2000


class CpuJobError(Exception):
    """The job's params or the ffmpeg run failed; `retryable` says whether another try could help."""

    def __init__(self, message: str, *, retryable: bool):
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class FfmpegPlan:
    input_url: str
    input_sha256: str | None
    args: list[str]
    output_name: str


def plan_ffmpeg(job: dict[str, Any]) -> FfmpegPlan:
    """Read and check a transcode/proxy job's params; CpuJobError (not retryable) names the bad field."""
    params = job.get("params") or {}
    input_url = params.get("input_url")
    if not isinstance(input_url, str) or not input_url:
        raise CpuJobError("params.input_url: a URL on the server is required", retryable=False)
    args = params.get("args", [])
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise CpuJobError("params.args: must be a list of strings (ffmpeg arguments)", retryable=False)
    default_name = f"{job.get('type', 'transcode')}{PurePosixPath(input_url).suffix or '.mp4'}"
    output_name = params.get("output_name") or default_name
    if not isinstance(output_name, str) or PurePosixPath(output_name).name != output_name:
        raise CpuJobError("params.output_name: must be a plain file name", retryable=False)
    sha = params.get("input_sha256")
    return FfmpegPlan(input_url, sha if isinstance(sha, str) else None, list(args), output_name)


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


async def run_process(
    command: Sequence[str], on_line: Callable[[bytes], None] | None = None
) -> tuple[int, str]:
    """Run `command` (never through a shell) to its end: its exit status and the last STDERR_TAIL
    characters of its stderr. `on_line` hears each line of its stdout (discarded without one). Cancelling
    the task kills the process."""
    process = await asyncio.create_subprocess_exec(
        *command,
        stdout=asyncio.subprocess.PIPE if on_line is not None else asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        if on_line is None:
            _, stderr = await process.communicate()
        else:
            assert process.stdout is not None and process.stderr is not None
            errors = asyncio.create_task(process.stderr.read())
            async for line in process.stdout:
                on_line(line)
            stderr = await errors
            await process.wait()
    except asyncio.CancelledError:
        with contextlib.suppress(ProcessLookupError):  # it may have just exited on its own
            process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return process.returncode, stderr.decode("utf-8", "replace")[-STDERR_TAIL:].strip()


async def run_ffmpeg(
    exe: str, source: Path, plan: FfmpegPlan, out_dir: Path, on_stage: Callable[[str], None]
) -> Path:
    """Run ffmpeg; returns the output file. Cancelling the task kills ffmpeg."""
    out_dir.mkdir(parents=True, exist_ok=True)
    output = out_dir / plan.output_name
    command = [exe, "-hide_banner", "-nostdin", "-y", "-i", str(source), *plan.args, str(output)]
    log.info("running %s", " ".join(command))
    on_stage("ffmpeg")
    returncode, tail = await run_process(command)
    if returncode != 0:
        raise CpuJobError(f"ffmpeg exited with {returncode}: {tail}", retryable=False)
    if not output.is_file() or output.stat().st_size == 0:
        raise CpuJobError(f"ffmpeg wrote no {plan.output_name}", retryable=False)
    return output
