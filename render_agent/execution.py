"""Running one claimed job on this host: inputs in, ComfyUI / ffmpeg / Blender, outputs checksummed.

The agent (`render_agent.agent`) owns the lease, heartbeats and reporting; this module only does the work
and says how it went: a `JobResult`, or an exception `describe_failure` turns into the fail report.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, get_args

from aipipe_shared.workflows import JobType, comfyui_too_old, graph_model_files
from render_agent.comfyui import (
    ComfyClient,
    ComfyError,
    ComfyExecutionError,
    ComfyInterrupted,
    ComfyTimeout,
    ComfyValidationError,
)
from render_agent.comfyui_cleanup import discard
from render_agent.control_image_job import CONTROL_IMAGE, control_image_command, plan_control_image
from render_agent.cpu_jobs import CPU_JOB_TYPES, CpuJobError, ffmpeg_exe, plan_ffmpeg, run_ffmpeg
from render_agent.dailies_job import DAILIES, make_dailies, plan_dailies
from render_agent.delivery_jobs import CONFORM, DELIVERY_JOB_TYPES, cache_dir_of, make_conform
from render_agent.delivery_master import make_master
from render_agent.frame_check import OutputCheckFailed, check_outputs, derive_values
from render_agent.playblast_job import PLAYBLAST, blender_command, plan_playblast, run_playblast
from render_agent.server_client import (
    ChecksumMismatch,
    Claim,
    FarmClient,
    FarmNotFound,
    FarmRefused,
    FarmUnavailable,
    sha256_file,
)
from render_agent.settings import AgentSettings

log = logging.getLogger(__name__)

COMFY_JOB_TYPES: tuple[str, ...] = get_args(JobType)
COMFY_INPUT_SUBFOLDER = "aipipe"
UNREADABLE_INPUT_ERRORS = frozenset({"PIL.UnidentifiedImageError"})
"""ComfyUI exception types of a loader given an input file it cannot decode."""
MAX_PREVIEW_BYTES = 512 * 1024  # the server refuses bigger previews (sync_server/farm/previews.py)


class JobFailed(Exception):
    """The job cannot be done here; `retryable` tells the server whether another agent may try."""

    def __init__(self, message: str, *, retryable: bool):
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class JobResult:
    files: list[Path]
    gpu_seconds: float
    provenance: dict[str, Any]
    sha256: list[str] = field(default_factory=list)  # one per file, filled in before reporting


@dataclass
class RunningJob:
    """The job being worked on: its lease, its folder, its progress, and why it was stopped (if it was)."""

    claim: Claim
    dir: Path
    progress: float = 0.0
    stage: str = "claimed"
    stop_reason: str | None = None  # "cancel" | "shutdown" | "lease-lost"
    heartbeat_buffered: bool = False
    stopped: asyncio.Event = field(default_factory=asyncio.Event)
    preview: tuple[str, bytes] | None = None  # the newest preview image not yet sent with a heartbeat

    @property
    def id(self) -> str:
        return self.claim.job_id

    @property
    def lease_id(self) -> str:
        return self.claim.lease_id

    def stop(self, reason: str) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason
        self.stopped.set()

    def on_progress(self, fraction: float, stage: str) -> None:
        self.progress, self.stage = fraction, stage

    def on_preview(self, mime: str, data: bytes) -> None:
        # The server keeps at most MAX_PREVIEW_BYTES; a bigger preview is skipped for the next one.
        if len(data) <= MAX_PREVIEW_BYTES:
            self.preview = (mime, data)


class Backoff:
    """Jittered exponential delays: the base doubles from min_s to max_s; each delay is in [base/2, base]."""

    def __init__(self, min_s: float, max_s: float, rng: random.Random):
        self.min_s, self.max_s, self.rng, self.attempt = min_s, max_s, rng, 0

    def next_delay(self) -> float:
        base = min(self.max_s, self.min_s * 2**self.attempt)
        self.attempt += 1
        return self.rng.uniform(base / 2, base)

    def reset(self) -> None:
        self.attempt = 0


class JobExecutor:
    """Does the work of one job at a time; `comfyui_version` is set by the agent when it checks ComfyUI."""

    def __init__(
        self, settings: AgentSettings, farm: FarmClient, comfy: ComfyClient | None, rng: random.Random
    ) -> None:
        self.settings = settings
        self.farm = farm
        self.comfy = comfy
        self.rng = rng
        self.comfyui_version: str | None = None
        self._cleanups: set[asyncio.Task[Any]] = set()

    async def finish_cleanups(self, timeout_s: float) -> None:
        """Give the cleanups of cancelled prompts up to `timeout_s` to end (at shutdown)."""
        if not self._cleanups:
            return
        _, pending = await asyncio.wait(self._cleanups, timeout=timeout_s)
        for task in pending:
            task.cancel()
        if pending:
            log.warning("%d ComfyUI cleanup(s) left unfinished at shutdown", len(pending))

    async def execute(self, job: RunningJob, job_types: list[str]) -> JobResult:
        """Download the inputs, run the job (ComfyUI, ffmpeg or Blender), checksum the outputs."""
        spec = job.claim.job
        job_type = str(spec.get("type"))
        if job_type not in job_types:
            raise JobFailed(f"this agent does not run job type {job_type!r}", retryable=True)
        inputs = await self._download_inputs(job)
        if job_type == PLAYBLAST:
            result = await self._run_playblast(job)
        elif job_type == CONTROL_IMAGE:
            result = await self._run_control_image(job)
        elif job_type == DAILIES:
            result = await self._run_dailies(job)
        elif job_type in DELIVERY_JOB_TYPES:
            result = await self._run_delivery(job)
        elif job_type in CPU_JOB_TYPES and not spec.get("graph"):
            result = await self._run_cpu(job)
        elif not isinstance(spec.get("graph"), dict) or not spec["graph"]:
            raise JobFailed(f"job type {job_type!r} needs a ComfyUI graph; the job has none", retryable=False)
        elif self.comfy is None:
            raise JobFailed("this agent has no ComfyUI configured", retryable=True)
        elif too_old := comfyui_too_old(spec["graph"], self.comfyui_version):
            raise JobFailed(too_old, retryable=True)  # another agent's ComfyUI may be new enough
        else:
            graph = copy.deepcopy(spec["graph"])
            derived = await self._derive(job, graph, inputs)
            await self._upload_inputs(job, graph, inputs)
            result = await self._run_comfy(job, graph)
            result = await self._check_outputs(job, graph, inputs, result, derived)
        if len(result.sha256) == len(result.files):
            return result  # hashed while fetched from ComfyUI
        job.stage = "checksumming outputs"
        digests = [await asyncio.to_thread(sha256_file, path) for path in result.files]
        return dataclasses.replace(result, sha256=digests)

    async def _download_inputs(self, job: RunningJob) -> list[tuple[dict[str, Any], Path, str]]:
        downloaded: list[tuple[dict[str, Any], Path, str]] = []
        taken: set[str] = set()
        for index, spec in enumerate(job.claim.job.get("inputs") or []):
            name = safe_name(str(spec.get("name") or ""), f"input_{index}")
            if name in taken:
                name = f"{index}_{name}"
            taken.add(name)
            job.stage = f"downloading input {name}"
            dest = job.dir / "inputs" / name
            sha = await self._download(str(spec.get("url") or ""), dest, spec.get("sha256"), what=name)
            downloaded.append((spec, dest, sha))
        return downloaded

    async def _download(self, url: str, dest: Path, sha256: str | None, *, what: str) -> str:
        if not url:
            raise JobFailed(f"input {what}: the job gives no url", retryable=False)
        backoff = Backoff(self.settings.backoff_min_s, self.settings.backoff_max_s, self.rng)
        for attempt in range(1, self.settings.download_attempts + 1):
            try:
                return await self.farm.download(url, dest, sha256=sha256)
            except (FarmUnavailable, ChecksumMismatch) as exc:
                if attempt == self.settings.download_attempts:
                    raise JobFailed(f"input {what}: {exc}", retryable=True) from exc
                delay = backoff.next_delay()
                log.warning("input %s: %s; try %d again in %.1f s", what, exc, attempt + 1, delay)
                await asyncio.sleep(delay)
            except (FarmNotFound, FarmRefused) as exc:
                raise JobFailed(f"input {what}: {exc}", retryable=False) from exc
        raise AssertionError("unreachable")

    async def _upload_inputs(
        self, job: RunningJob, graph: dict[str, Any], inputs: list[tuple[dict[str, Any], Path, str]]
    ) -> None:
        assert self.comfy is not None
        for spec, path, sha in inputs:
            targets = input_targets(spec, graph, path.name)
            if not targets:
                log.info(
                    "job %s: input %s is not used by the graph; not uploaded to ComfyUI", job.id, path.name
                )
                continue
            job.stage = f"uploading {path.name} to ComfyUI"
            # A folder per content hash: two jobs never overwrite each other's same-named inputs.
            uploaded = await self.comfy.upload_file(path, subfolder=f"{COMFY_INPUT_SUBFOLDER}/{sha[:16]}")
            for node_id, input_name in targets:
                graph[node_id]["inputs"][input_name] = uploaded

    async def _run_comfy(self, job: RunningJob, graph: dict[str, Any]) -> JobResult:
        assert self.comfy is not None
        prompt_id = str(uuid.uuid4())
        timeout = job.claim.job.get("timeout_s")
        job.stage = "queued on ComfyUI"
        started = time.monotonic()
        try:
            await self.comfy.submit(
                graph, prompt_id=prompt_id, on_progress=job.on_progress, on_preview=job.on_preview
            )
            entry = await self.comfy.wait(prompt_id, timeout=float(timeout) if timeout else None)
        except asyncio.CancelledError:
            # Stopped (cancel, lease lost, shutdown): ComfyUI must stop too, not run on for nobody.
            await asyncio.shield(self._cancel_prompt(prompt_id))
            self._clean_up_later(prompt_id)
            raise
        except ComfyTimeout:
            self._clean_up_later(prompt_id)  # wait() cancelled the prompt already
            raise
        gpu_seconds = time.monotonic() - started
        models = sorted(graph_model_files(graph))
        job.stage = "fetching outputs from ComfyUI"
        try:
            files = await self.comfy.download_outputs(entry, job.dir / "outputs")
        finally:
            try:
                await self.comfy.delete_history(prompt_id)
            except ComfyError as exc:
                log.warning("could not delete ComfyUI history of prompt %s: %s", prompt_id, exc)
        if not files:
            raise JobFailed("ComfyUI finished but saved no output file (no Save node?)", retryable=False)
        provenance = {
            "comfyui_prompt_id": prompt_id,
            "models": models,
            "comfyui_version": self.comfyui_version or "unknown",
        }
        digests = [f.sha256 for f in files] if all(f.sha256 for f in files) else []
        return JobResult([f.path for f in files], round(gpu_seconds, 3), provenance, sha256=digests)

    async def _derive(
        self, job: RunningJob, graph: dict[str, Any], inputs: list[tuple[dict[str, Any], Path, str]]
    ) -> dict[str, float] | None:
        """Values the template derives from an input (RIFE: fps = the source's x factor) and the job did not
        give, set into the graph (frame_check.py); an input that is no video fails on every agent."""
        job.stage = "measuring the input video"
        by_role = {str(spec.get("role")): path for spec, path, _ in inputs}
        try:
            return await asyncio.to_thread(derive_values, graph, by_role)
        except OutputCheckFailed as exc:
            raise JobFailed(f"input: {exc}", retryable=False) from exc

    async def _check_outputs(
        self,
        job: RunningJob,
        graph: dict[str, Any],
        inputs: list[tuple[dict[str, Any], Path, str]],
        result: JobResult,
        derived: dict[str, float] | None = None,
    ) -> JobResult:
        """Frames, fps and size of the output video against the input's, as the template expects
        (frame_check.py); what was measured (and derived) goes into the provenance."""
        job.stage = "checking the output video"
        by_role = {str(spec.get("role")): path for spec, path, _ in inputs}
        checked = await asyncio.to_thread(check_outputs, graph, by_role, result.files)
        provenance = dict(result.provenance)
        if derived:
            provenance["derived"] = derived
        if checked is not None:
            provenance["output_check"] = checked
        return dataclasses.replace(result, provenance=provenance)

    def _clean_up_later(self, prompt_id: str) -> None:
        """ComfyUI finishes a running node even when interrupted (0.3.64: a long SaveVideo encode runs on):
        once it is done with the prompt, its history entry and the files it wrote are deleted."""
        assert self.comfy is not None
        task = asyncio.create_task(self._discard(prompt_id), name=f"comfyui-discard-{prompt_id}")
        self._cleanups.add(task)
        task.add_done_callback(self._cleanups.discard)

    async def _discard(self, prompt_id: str) -> None:
        assert self.comfy is not None
        try:
            await discard(
                self.comfy,
                prompt_id,
                output_dir=self.settings.comfyui_output_dir,
                wait_s=self.settings.cancel_cleanup_s,
            )
        except ComfyError as exc:
            log.warning("could not clean up ComfyUI prompt %s: %s", prompt_id, exc)
        except OSError as exc:
            log.warning("could not delete the files of ComfyUI prompt %s: %s", prompt_id, exc)

    async def _cancel_prompt(self, prompt_id: str) -> None:
        assert self.comfy is not None
        try:
            await self.comfy.cancel(prompt_id)
        except ComfyError as exc:
            log.error("could not cancel ComfyUI prompt %s: %s", prompt_id, exc)

    async def _run_cpu(self, job: RunningJob) -> JobResult:
        plan = plan_ffmpeg(job.claim.job)
        source = job.dir / "inputs" / ("source" + PurePosixPath(plan.input_url).suffix)
        await self._download(plan.input_url, source, plan.input_sha256, what="params.input_url")
        exe = await asyncio.to_thread(ffmpeg_exe)
        timeout = job.claim.job.get("timeout_s")
        try:
            async with asyncio.timeout(float(timeout) if timeout else None):
                output = await run_ffmpeg(
                    exe, source, plan, job.dir / "outputs", lambda s: job.on_progress(0, s)
                )
        except TimeoutError as exc:
            raise JobFailed(
                f"ffmpeg did not finish within the job's timeout_s ({timeout} s)", retryable=True
            ) from exc
        provenance = {"tool": "ffmpeg", "ffmpeg": Path(exe).name, "args": plan.args}
        return JobResult([output], 0.0, provenance)

    async def _run_dailies(self, job: RunningJob) -> JobResult:
        plan = plan_dailies(job.claim.job)
        exe = await asyncio.to_thread(ffmpeg_exe)
        timeout = job.claim.job.get("timeout_s")

        async def download(url: str, dest: Path, sha256: str | None, what: str) -> str:
            return await self._download(url, dest, sha256, what=what)

        started = time.monotonic()
        try:
            async with asyncio.timeout(float(timeout) if timeout else None):
                files, report = await make_dailies(exe, plan, download, job.dir, job.on_progress)
        except TimeoutError as exc:
            raise JobFailed(
                f"dailies did not finish within the job's timeout_s ({timeout} s)", retryable=True
            ) from exc
        provenance = {"tool": "ffmpeg", **report, "cpu_seconds": round(time.monotonic() - started, 3)}
        return JobResult(files, 0.0, provenance)

    async def _run_delivery(self, job: RunningJob) -> JobResult:
        """A conform or a delivery master (render_agent.delivery_jobs); conform segments are cached in
        the work folder between jobs."""
        spec = job.claim.job
        exe = await asyncio.to_thread(ffmpeg_exe)
        timeout = spec.get("timeout_s")

        async def download(url: str, dest: Path, sha256: str | None, what: str) -> str:
            return await self._download(url, dest, sha256, what=what)

        started = time.monotonic()
        try:
            async with asyncio.timeout(float(timeout) if timeout else None):
                cache = cache_dir_of(self.settings.work_dir)
                keep = int(self.settings.segment_cache_gb * 1024**3)
                if spec.get("type") == CONFORM:
                    params = spec.get("params") or {}
                    files, report = await make_conform(
                        exe, params, download, job.dir, cache, job.on_progress, keep
                    )
                else:
                    files, report = await make_master(
                        exe, spec, download, job.dir, job.on_progress, cache, keep
                    )
        except TimeoutError as exc:
            raise JobFailed(
                f"{spec.get('type')} did not finish within the job's timeout_s ({timeout} s)", retryable=True
            ) from exc
        provenance = {"tool": "ffmpeg", **report, "cpu_seconds": round(time.monotonic() - started, 3)}
        return JobResult(files, 0.0, provenance)

    async def _run_blender(
        self,
        job: RunningJob,
        blend_url: str,
        blend_sha256: str | None,
        output: Path,
        command: Callable[[Path, Path], list[str]],
        what: str,
    ) -> tuple[Path, dict[str, Any], dict[str, Any]]:
        """A job Blender runs on the layout `.blend` (playblast, control image): fetch the file, run
        `command(blend, output)` within the job's timeout; (the file made, Blender's report, the provenance
        every Blender job records)."""
        if not self.settings.blender:
            raise JobFailed("this agent has no Blender configured (AIPIPE_AGENT_BLENDER)", retryable=True)
        blend = job.dir / "inputs" / "layout.blend"
        await self._download(blend_url, blend, blend_sha256, what="params.blend_url")
        timeout = job.claim.job.get("timeout_s")
        started = time.monotonic()
        try:
            async with asyncio.timeout(float(timeout) if timeout else None):
                made, report = await run_playblast(
                    command(blend, output), output, lambda s: job.on_progress(0, s), what
                )
        except TimeoutError as exc:
            raise JobFailed(
                f"Blender did not finish within the job's timeout_s ({timeout} s)", retryable=True
            ) from exc
        provenance = {
            "tool": "blender",
            "blender": Path(self.settings.blender).name,
            "cpu_seconds": round(time.monotonic() - started, 3),
        }
        return made, report, provenance

    async def _run_playblast(self, job: RunningJob) -> JobResult:
        plan = plan_playblast(job.claim.job)
        movie, report, provenance = await self._run_blender(
            job,
            plan.blend_url,
            plan.blend_sha256,
            job.dir / "outputs" / plan.output_name,
            lambda blend, output: blender_command(self.settings.blender or "", plan, blend, output),
            "playblast (Blender)",
        )
        files = [movie]
        thumbnail = report.get("thumbnail")
        if isinstance(thumbnail, str) and Path(thumbnail).is_file():
            files.append(Path(thumbnail))
        keys = ("frames", "frame_start", "frame_end", "method")
        return JobResult(files, 0.0, {**provenance, **{k: report.get(k) for k in keys}})

    async def _run_control_image(self, job: RunningJob) -> JobResult:
        plan = plan_control_image(job.claim.job)
        picture, report, provenance = await self._run_blender(
            job,
            plan.blend_url,
            plan.blend_sha256,
            job.dir / "outputs" / plan.output_name,
            lambda blend, output: control_image_command(self.settings.blender or "", plan, blend, output),
            f"{plan.kind} control image (Blender)",
        )
        keys = ("kind", "frame", "camera", "scene", "width", "height")
        return JobResult([picture], 0.0, {**provenance, **{k: report.get(k) for k in keys}})


def describe_failure(outcome: BaseException | JobResult) -> tuple[str, bool, str]:
    """The `error` text, `retryable` flag and `kind` of a fail report. Kinds: `input` (the same inputs fail
    on every agent), `node` (a node raised while running: one more try), `agent` (this host could not)."""
    if isinstance(outcome, JobFailed | CpuJobError):
        return str(outcome), outcome.retryable, "agent" if outcome.retryable else "input"
    if isinstance(outcome, OutputCheckFailed):  # the graph ran but made the wrong video: one more try
        return f"output check: {outcome}", True, "node"
    if isinstance(outcome, ComfyValidationError):
        return f"ComfyUI: {outcome}", False, "input"  # the same graph fails the same way on every agent
    if isinstance(outcome, ComfyExecutionError):
        if outcome.exception_type in UNREADABLE_INPUT_ERRORS:  # an uploaded take, mask, control image ...
            return f"ComfyUI: {outcome}", False, "input"  # ... that is no picture fails on every agent
        # Out of memory is this card's limit, not the job's error: another card may have more.
        oom = "OutOfMemory" in outcome.exception_type
        return f"ComfyUI: {outcome}", True, "agent" if oom else "node"
    if isinstance(outcome, ComfyTimeout):
        return f"ComfyUI: {outcome}", True, "node"
    if isinstance(outcome, ComfyInterrupted | ComfyError):
        return f"ComfyUI: {outcome}", True, "agent"
    if isinstance(outcome, OSError):
        return f"agent: {outcome}", True, "agent"
    log.error("job failed on an unexpected error", exc_info=outcome)
    return f"agent error: {type(outcome).__name__}: {outcome}", True, "agent"


def input_targets(spec: dict[str, Any], graph: dict[str, Any], local_name: str) -> list[tuple[str, str]]:
    """`[[node_id, input_name], …]` the input's uploaded name goes to; JobFailed names a bad target.

    Without `targets` the server's binding is taken from the graph: every input holding the input's name.
    """
    name = str(spec.get("name") or local_name)
    if "targets" not in spec:
        return [
            (node_id, input_name)
            for node_id, node in graph.items()
            for input_name, value in (node.get("inputs") or {}).items()
            if value == name
        ]
    targets: list[tuple[str, str]] = []
    for target in spec.get("targets") or []:
        if not (isinstance(target, list | tuple) and len(target) == 2):
            raise JobFailed(f"input {name}: target {target!r} is not [node_id, input_name]", retryable=False)
        node_id, input_name = str(target[0]), str(target[1])
        if input_name not in (graph.get(node_id) or {}).get("inputs", {}):
            raise JobFailed(
                f"input {name}: target node {node_id} input '{input_name}' is not in the graph",
                retryable=False,
            )
        targets.append((node_id, input_name))
    return targets


def safe_name(name: str, fallback: str) -> str:
    base = PurePosixPath(name.replace("\\", "/")).name
    return base if base not in ("", ".", "..") else fallback
