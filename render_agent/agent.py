"""The render agent's loop: register, heartbeat, claim a job, run it, report it (docs/agent-protocol.md).

Every report about a job goes through the outbox (outbox.py) so that it survives the server being away;
the ComfyUI client (comfyui.py) and the protocol client (server_client.py) do the talking.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import shutil
import signal
import socket
import time
from collections.abc import Callable
from typing import Any

from aipipe_shared.aio import wait_event
from aipipe_shared.protocol import PROTOCOL_VERSION
from aipipe_shared.version import __version__
from render_agent.catalogue import CatalogueReport
from render_agent.comfyui import (
    ComfyClient,
    ComfyError,
)
from render_agent.control_image_job import CONTROL_IMAGE
from render_agent.cpu_jobs import CPU_JOB_TYPES
from render_agent.execution import (
    COMFY_JOB_TYPES,
    Backoff,
    JobExecutor,
    JobResult,
    RunningJob,
    describe_failure,
    safe_name,
)
from render_agent.gpu import GpuReport, probe_gpus
from render_agent.job_run import JobRun
from render_agent.outbox import FlushResult, Outbox
from render_agent.playblast_job import PLAYBLAST
from render_agent.server_client import (
    Claim,
    FarmAuthError,
    FarmClient,
    FarmError,
    FarmNotFound,
    FarmRefused,
    FarmUnavailable,
    LeaseLost,
    Registration,
)
from render_agent.settings import AgentSettings, SigtermMode

log = logging.getLogger(__name__)

EXIT_OK, EXIT_REFUSED, EXIT_AUTH = 0, 1, 2


class Agent:
    """One render agent. `run()` returns the process exit code."""

    def __init__(
        self,
        settings: AgentSettings,
        farm: FarmClient,
        outbox: Outbox,
        comfy: ComfyClient | None = None,
        *,
        gpu_probe: Callable[[], GpuReport] = probe_gpus,
        rng: random.Random | None = None,
    ):
        self.settings, self.farm, self.outbox, self.comfy = settings, farm, outbox, comfy
        self.gpu_probe = gpu_probe
        self.rng = rng or random.Random()
        self.registration: Registration | None = None
        self.loaded_models: list[str] = []
        self.draining = False
        self.current: RunningJob | None = None
        self.stop_mode: SigtermMode | None = None
        self.fatal: FarmError | None = None
        self.comfyui_version: str | None = None
        self._stopping = asyncio.Event()
        self._register_lock = asyncio.Lock()
        self._signals = 0
        self._finished_jobs: set[str] = set()
        self._server_away = False
        runnable = list(CPU_JOB_TYPES) + ([PLAYBLAST, CONTROL_IMAGE] if settings.blender else [])
        runnable += list(COMFY_JOB_TYPES) if comfy is not None else []
        self.job_types = list(settings.job_types) or runnable
        self.executor = JobExecutor(settings, farm, comfy, self.rng)
        self.runner = JobRun(
            settings,
            farm,
            outbox,
            self.executor,
            self.rng,
            flush=self._flush,
            fatal=self._fail_fatally,
            heartbeat_s=lambda: self.heartbeat_s,
            watch_s=self._watch_s,
        )
        self.unavailable: str | None = None  # why this agent cannot run jobs now (its ComfyUI is away)
        self.catalogue = CatalogueReport(comfy, farm) if comfy is not None else None

    # ---- public ----------------------------------------------------------------------------
    @property
    def agent_id(self) -> str:
        if self.registration is None:
            raise RuntimeError("the agent is not registered")
        return self.registration.agent_id

    @property
    def heartbeat_s(self) -> float:
        fallback = self.registration.heartbeat_s if self.registration else 10.0
        return self.settings.heartbeat_s or fallback

    def _watch_s(self) -> float:
        return self.registration.claim_wait_max_s if self.registration else self.settings.claim_wait_s

    def request_stop(self, mode: SigtermMode) -> None:
        """finish: finish the current job, then exit. release: stop it, give it back, exit."""
        if self.stop_mode != "release":
            self.stop_mode = mode
        self._stopping.set()
        if self.stop_mode == "release" and self.current is not None:
            self.current.stop("shutdown")

    async def run(self) -> int:
        """Register, then claim and run jobs until asked to stop."""
        handled = self._install_signal_handlers()
        try:
            self._clean_work_dir()
            await self._drop_left_behind()
            if await self._register():
                heartbeats = asyncio.create_task(self._agent_heartbeats(), name="agent-heartbeats")
                try:
                    await self._claim_loop()
                finally:
                    heartbeats.cancel()
                    await asyncio.gather(heartbeats, return_exceptions=True)
            await self._final_flush()
        except (FarmAuthError, FarmRefused) as exc:
            self.fatal = exc
        finally:
            for sig in handled:
                asyncio.get_running_loop().remove_signal_handler(sig)
        if isinstance(self.fatal, FarmAuthError):
            log.error(
                "the server refused our API key (%s); check AIPIPE_AGENT_API_KEY. Stopping.", self.fatal
            )
            return EXIT_AUTH
        if self.fatal is not None:
            log.error("the server refused this agent's messages (%s); stopping", self.fatal)
            return EXIT_REFUSED
        log.info("agent %s stopped", self.settings.name)
        return EXIT_OK

    # ---- registration and agent heartbeats -------------------------------------------------
    async def _register(self) -> bool:
        backoff = self._backoff()
        while self.stop_mode is None:
            body = await self._register_body()
            try:
                self.registration = await self.farm.register(body)
            except FarmUnavailable as exc:
                delay = backoff.next_delay()
                log.warning("cannot register with %s (%s); again in %.1f s", self.farm.base_url, exc, delay)
                await self._sleep(delay)
                continue
            log.info(
                "registered as %s (agent %s): job types %s, GPUs %d%s",
                self.settings.name,
                self.registration.agent_id,
                ", ".join(self.job_types),
                len(body["gpus"]),
                f" ({body['gpu_error']})" if body["gpu_error"] else "",
            )
            return True
        return False

    async def _reregister(self, stale_id: str) -> None:
        async with self._register_lock:
            if self.registration is not None and self.registration.agent_id == stale_id:
                log.warning("the server does not know agent %s; registering again", stale_id)
                await self._register()

    async def _register_body(self) -> dict[str, Any]:
        report = await asyncio.to_thread(self.gpu_probe)
        return {
            "name": self.settings.name,
            "host": socket.getfqdn(),
            "version": __version__,
            "protocol_version": PROTOCOL_VERSION,
            "gpus": report.gpus_json(),
            "gpu_error": report.error,
            "cpu_count": os.cpu_count() or 0,
            "ram_mb": _ram_mb(),
            "tags": list(self.settings.tags),
            "job_types": self.job_types,
            "loaded_models": list(self.loaded_models),
        }

    async def _agent_heartbeats(self) -> None:
        while self.fatal is None:
            await asyncio.sleep(self.heartbeat_s)
            await self._agent_heartbeat_now()

    async def _agent_heartbeat_now(self) -> None:
        try:
            await self._agent_heartbeat()
        except FarmUnavailable as exc:
            log.debug("agent heartbeat not delivered: %s", exc)
        except FarmAuthError as exc:
            self._fail_fatally(exc)
        except FarmError as exc:
            log.error("agent heartbeat refused: %s", exc)
        except Exception:
            log.exception("agent heartbeat failed; trying again at the next one")

    async def _agent_heartbeat(self) -> None:
        agent_id = self.agent_id
        report = await asyncio.to_thread(self.gpu_probe)
        try:
            action = await self.farm.agent_heartbeat(
                agent_id,
                state="busy" if self.current is not None else "unavailable" if self.unavailable else "idle",
                reason=self.unavailable or "",
                loaded_models=list(self.loaded_models),
                gpus=report.gpus_json(),
            )
        except FarmNotFound:
            await self._reregister(agent_id)
            return
        if (action == "drain") != self.draining:
            self.draining = action == "drain"
            log.info("%s", "drained by the server: no new jobs" if self.draining else "undrained")

    # ---- claiming --------------------------------------------------------------------------
    async def _claim_loop(self) -> None:
        backoff = self._backoff()
        while self.stop_mode is None:
            if not (await self._flush()).complete:
                await self._sleep(backoff.next_delay())
                continue
            if self.draining:
                await self._sleep(self.heartbeat_s)
                continue
            if not await self._comfy_ready():
                await self._sleep(backoff.next_delay())
                continue
            agent_id = self.agent_id
            try:
                claim = await self._claim_unless_stopped()
            except FarmUnavailable as exc:
                delay = backoff.next_delay()
                self._note_server_away(exc, delay)
                await self._sleep(delay)
                continue
            except FarmNotFound:
                await self._reregister(agent_id)
                continue
            except (FarmRefused, LeaseLost) as exc:
                delay = backoff.next_delay()
                log.error("claim refused (%s); again in %.1f s", exc, delay)
                await self._sleep(delay)
                continue
            backoff.reset()
            self._note_server_back()
            if claim is not None:
                await self._run_job(claim)

    async def _claim_unless_stopped(self) -> Claim | None:
        assert self.registration is not None
        wait_s = min(self.settings.claim_wait_s, self.registration.claim_wait_max_s)
        claim_task = asyncio.create_task(
            self.farm.claim(self.agent_id, wait_s=wait_s, loaded_models=list(self.loaded_models))
        )
        stop_task = asyncio.create_task(self._stopping.wait())
        await asyncio.wait({claim_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
        stop_task.cancel()
        if not claim_task.done():
            claim_task.cancel()
            await asyncio.gather(claim_task, return_exceptions=True)
            return None
        claim = claim_task.result()
        if claim is not None and self.stop_mode is not None:
            log.info("job %s arrived while stopping; giving it back", claim.job_id)
            self.outbox.add(claim.job_id, "release", {"lease_id": claim.lease_id})
            self._finished_jobs.add(claim.job_id)
            await self._flush()
            return None
        return claim

    async def _comfy_ready(self) -> bool:
        if self.comfy is None:
            return True
        try:
            stats = await self.comfy.system_stats()
        except ComfyError as exc:
            reason = f"ComfyUI at {self.comfy.base_url} does not answer: {exc}"
            if reason != self.unavailable:
                log.warning("%s; not claiming", reason)
                self.unavailable = reason
                await self._agent_heartbeat_now()  # the farm shows it now, not at the next beat
            return False
        self.comfyui_version = str((stats.get("system") or {}).get("comfyui_version") or "unknown")
        self.executor.comfyui_version = self.comfyui_version
        if self.unavailable is not None:
            log.info("ComfyUI at %s answers again", self.comfy.base_url)
            self.unavailable = None
            await self._agent_heartbeat_now()
        if self.catalogue is not None:
            await self.catalogue.refresh(self.agent_id)  # on start, and after ComfyUI reconnected (a restart)
        return True

    # ---- one job ---------------------------------------------------------------------------
    async def _run_job(self, claim: Claim) -> None:
        job = RunningJob(claim, self.settings.work_dir / "jobs" / safe_name(claim.job_id, "job"))
        self.current = job
        log.info(
            "job %s (%s, attempt %s) claimed", job.id, claim.job.get("type"), claim.job.get("attempt", "?")
        )
        if self.stop_mode == "release":
            job.stop("shutdown")
        try:
            outcome = await self.runner.run(job, self.job_types)
        finally:
            self.current = None
        models = outcome.provenance.get("models") if isinstance(outcome, JobResult) else None
        if job.claim.job.get("graph") and isinstance(models, list):
            self.loaded_models = list(models)  # what ComfyUI now holds: claims prefer jobs that need it
        self._report(job, outcome)
        await self._flush()

    def _report(self, job: RunningJob, outcome: JobResult | BaseException) -> None:
        """Put the job's result into the outbox (or drop everything, when the lease is lost)."""
        if job.stop_reason == "lease-lost":
            dropped = self.outbox.drop_job(job.id)
            log.warning("job %s: lease lost; dropped its results and %d buffered report(s)", job.id, dropped)
            self._remove_job_dir(job.id)
            return
        self._finished_jobs.add(job.id)
        if isinstance(outcome, JobResult):
            for path, sha256 in zip(outcome.files, outcome.sha256, strict=True):
                payload = {"lease_id": job.lease_id, "path": str(path), "name": path.name}
                self.outbox.add(job.id, "outputs", {**payload, "sha256": sha256})
            result = {"gpu_seconds": outcome.gpu_seconds, "provenance": outcome.provenance}
            self.outbox.add(job.id, "complete", {"lease_id": job.lease_id, **result})
            log.info("job %s done: %d output(s), %.1f GPU-s", job.id, len(outcome.files), outcome.gpu_seconds)
        elif job.stop_reason in ("cancel", "shutdown"):
            self.outbox.add(job.id, "release", {"lease_id": job.lease_id})
            log.info("job %s released (%s)", job.id, job.stop_reason)
        else:
            error, retryable, kind = describe_failure(outcome)
            body = {"lease_id": job.lease_id, "error": error, "retryable": retryable, "kind": kind}
            self.outbox.add(job.id, "fail", body)
            log.error("job %s failed (%s error, retryable=%s): %s", job.id, kind, retryable, error)

    # ---- delivery, files, helpers ----------------------------------------------------------
    async def _flush(self) -> FlushResult:
        try:
            result = await self.outbox.flush(self.farm)
        except FarmAuthError as exc:
            self._fail_fatally(exc)
            return FlushResult(unavailable=FarmUnavailable(str(exc)))
        current = self.current
        if current is not None:
            if current.id in result.dropped_jobs:
                current.stop("lease-lost")
            reply = result.heartbeat_replies.get(current.id)
            if reply is not None and reply.action == "cancel":
                current.stop("cancel")
        pending = self.outbox.job_ids()
        for job_id in list(self._finished_jobs - pending):
            self._finished_jobs.discard(job_id)
            self._remove_job_dir(job_id)
        return result

    async def _final_flush(self) -> None:
        deadline = time.monotonic() + self.settings.shutdown_flush_s
        await self.executor.finish_cleanups(self.settings.shutdown_flush_s)
        backoff = self._backoff()
        while len(self.outbox) and not isinstance(self.fatal, FarmAuthError):
            if (await self._flush()).complete:
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                log.warning(
                    "%d report(s) stay in %s; they are delivered at the next start",
                    len(self.outbox),
                    self.outbox.path,
                )
                return
            await asyncio.sleep(min(backoff.next_delay(), remaining))

    def _clean_work_dir(self) -> None:
        jobs = self.settings.work_dir / "jobs"
        jobs.mkdir(parents=True, exist_ok=True)
        pending = self.outbox.job_ids()
        for folder in jobs.iterdir():
            if folder.name in pending:
                self._finished_jobs.add(folder.name)  # its reports are still to be delivered
            else:
                self._remove_job_dir(folder.name)

    async def _drop_left_behind(self) -> None:
        """Before the first claim: remove what a killed run of this agent left queued or running in its
        ComfyUI (its prompts carry the agent's name). Once, with the connect timeout: a ComfyUI that cannot
        be reached now has nothing of ours to clean when it comes back (a restart empties its queue)."""
        if self.comfy is None:
            return
        try:
            await asyncio.wait_for(self.comfy.drop_left_behind(), self.settings.connect_timeout_s)
        except (ComfyError, TimeoutError) as exc:
            log.warning("could not look for prompts a previous run left in ComfyUI: %s", exc)

    def _remove_job_dir(self, job_id: str) -> None:
        folder = self.settings.work_dir / "jobs" / safe_name(job_id, "job")
        try:
            shutil.rmtree(folder)
        except FileNotFoundError:
            return
        except OSError as exc:
            log.warning("could not remove %s: %s", folder, exc)

    def _fail_fatally(self, exc: FarmError) -> None:
        log.error("stopping: %s", exc)
        self.fatal = exc
        self.request_stop("release")

    def _note_server_away(self, exc: Exception, delay: float) -> None:
        level = logging.DEBUG if self._server_away else logging.WARNING
        log.log(level, "server %s away (%s); trying again in %.1f s", self.farm.base_url, exc, delay)
        self._server_away = True

    def _note_server_back(self) -> None:
        if self._server_away:
            log.info("server %s answers again", self.farm.base_url)
            self._server_away = False

    def _backoff(self) -> Backoff:
        return Backoff(self.settings.backoff_min_s, self.settings.backoff_max_s, self.rng)

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but wake at once when a stop is requested."""
        await wait_event(self._stopping, seconds)

    def _install_signal_handlers(self) -> list[signal.Signals]:
        loop = asyncio.get_running_loop()
        installed = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, self._on_signal, sig)
            except (NotImplementedError, RuntimeError, ValueError) as exc:
                log.info("no handler for %s here (%s); stop the agent by other means", sig.name, exc)
                continue
            installed.append(sig)
        return installed

    def _on_signal(self, sig: signal.Signals) -> None:
        self._signals += 1
        mode: SigtermMode = self.settings.on_sigterm if self._signals == 1 else "release"
        log.info(
            "%s received: %s", sig.name, "finishing the current job" if mode == "finish" else "releasing"
        )
        self.request_stop(mode)


def _ram_mb() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1024 * 1024)
    except (ValueError, OSError, AttributeError) as exc:
        log.warning("cannot read this host's RAM size (%s); reporting 0", exc)
        return 0


async def run_agent(settings: AgentSettings) -> int:
    """Build the clients from settings, run the agent, close everything; returns the exit code."""
    outbox = Outbox(settings.resolved_outbox_path)
    try:
        async with contextlib.AsyncExitStack() as stack:
            farm = await stack.enter_async_context(
                FarmClient(
                    settings.server_urls,
                    settings.api_key.get_secret_value(),
                    request_timeout=settings.request_timeout_s,
                    connect_timeout=settings.connect_timeout_s,
                    transfer_timeout=settings.transfer_timeout_s,
                )
            )
            comfy = None
            if settings.comfyui_url:
                comfy = await stack.enter_async_context(
                    ComfyClient(
                        settings.comfyui_url, connect_timeout=settings.connect_timeout_s, owner=settings.name
                    )
                )
            return await Agent(settings, farm, outbox, comfy).run()
    finally:
        outbox.close()
