"""One claimed job while it runs: the work, its heartbeats (progress as ComfyUI reports it) and the watch
that hears a cancel the moment a wrangler asks for it.

The agent (`render_agent.agent`) claims, reports into the outbox and flushes; this module keeps the job
alive on the server and stops it when told to.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

from render_agent.execution import Backoff, JobExecutor, JobResult, RunningJob
from render_agent.outbox import FlushResult, Outbox
from render_agent.server_client import (
    FarmAuthError,
    FarmClient,
    FarmError,
    FarmNotFound,
    FarmUnavailable,
    LeaseLost,
)
from render_agent.settings import AgentSettings

log = logging.getLogger(__name__)


class JobRun:
    """Runs claimed jobs one at a time for the agent; `run` returns the outcome (a result or the error)."""

    def __init__(
        self,
        settings: AgentSettings,
        farm: FarmClient,
        outbox: Outbox,
        executor: JobExecutor,
        rng: random.Random,
        *,
        flush: Callable[[], Awaitable[FlushResult]],
        fatal: Callable[[FarmError], None],
        heartbeat_s: Callable[[], float],
        watch_s: Callable[[], float],
    ) -> None:
        self.settings, self.farm, self.outbox, self.executor, self.rng = settings, farm, outbox, executor, rng
        self._flush, self._fatal, self._heartbeat_s, self._watch_s = flush, fatal, heartbeat_s, watch_s

    async def run(self, job: RunningJob, job_types: list[str]) -> JobResult | BaseException:
        """Do the job, heartbeating and watching for a cancel; it stops early when `job.stop` is called."""
        beats = asyncio.create_task(self._heartbeats(job), name=f"job-heartbeats-{job.id}")
        watch = asyncio.create_task(self._watch(job), name=f"job-watch-{job.id}")
        work = asyncio.create_task(self.executor.execute(job, job_types), name=f"job-{job.id}")
        stopped = asyncio.create_task(job.stopped.wait())
        try:
            await asyncio.wait({work, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if not work.done():
                log.info("job %s: stopping (%s)", job.id, job.stop_reason)
                work.cancel()
            return (await asyncio.gather(work, return_exceptions=True))[0]
        finally:
            for task in (beats, watch, stopped):
                task.cancel()
            await asyncio.gather(beats, watch, stopped, return_exceptions=True)

    # ---- heartbeats ------------------------------------------------------------------------
    async def _heartbeats(self, job: RunningJob) -> None:
        """A heartbeat every `heartbeat_s`, and one as soon as progress or stage changed (at most every
        `progress_interval_s`): the server shows what ComfyUI is doing, not the state at the last beat."""
        loop = asyncio.get_running_loop()
        while True:
            sent, at = (job.progress, job.stage), loop.time()
            await self._heartbeat(job)
            while True:
                await asyncio.sleep(min(self.settings.progress_interval_s, self._heartbeat_s()))
                if (job.progress, job.stage) != sent or loop.time() - at >= self._heartbeat_s():
                    break

    async def _heartbeat(self, job: RunningJob) -> None:
        body: dict[str, Any] = {
            "lease_id": job.lease_id,
            "progress": round(job.progress, 4),
            "stage": job.stage[:200],
        }
        if job.preview is not None:  # sent once; left out while there is no newer one
            mime, data = job.preview
            body["preview"] = {"mime": mime, "data": base64.b64encode(data).decode("ascii")}
            job.preview = None
        self.outbox.discard_heartbeats(job.id)  # this one supersedes any unsent one
        if len(self.outbox) and not (await self._flush()).complete:
            self.outbox.add(job.id, "job_heartbeat", body)
            return
        try:
            reply = await self.farm.job_heartbeat(job.id, body)
        except FarmUnavailable as exc:
            level = logging.DEBUG if job.heartbeat_buffered else logging.WARNING
            log.log(level, "job %s: heartbeat not delivered (%s); buffered, the job goes on", job.id, exc)
            job.heartbeat_buffered = True
            self.outbox.add(job.id, "job_heartbeat", body)
            return
        except (LeaseLost, FarmNotFound) as exc:
            log.warning("job %s: %s", job.id, exc)
            job.stop("lease-lost")
            return
        except FarmAuthError as exc:
            self._fatal(exc)
            return
        except FarmError as exc:
            log.error("job %s: heartbeat refused: %s", job.id, exc)
            return
        job.heartbeat_buffered = False
        if reply.action == "cancel":
            log.info("job %s: cancelled by the server", job.id)
            job.stop("cancel")

    # ---- the cancel watch ------------------------------------------------------------------
    async def _watch(self, job: RunningJob) -> None:
        """Keep a long-poll open on the job: the server answers it the moment the job is cancelled."""
        backoff = Backoff(self.settings.backoff_min_s, self.settings.backoff_max_s, self.rng)
        while True:
            try:
                action = await self.farm.watch_job(job.id, job.lease_id, wait_s=self._watch_s())
            except FarmUnavailable as exc:
                log.debug("job %s: watch not answered (%s)", job.id, exc)
                await asyncio.sleep(backoff.next_delay())
                continue
            except LeaseLost as exc:
                log.warning("job %s: %s", job.id, exc)
                job.stop("lease-lost")
                return
            except FarmNotFound:
                return  # the job is gone (the heartbeat says so) or the server has no watch: heartbeats do
            except FarmAuthError as exc:
                self._fatal(exc)
                return
            except FarmError as exc:
                log.error("job %s: watch refused (%s); cancels arrive with heartbeats", job.id, exc)
                return
            backoff.reset()
            if action == "cancel":
                log.info("job %s: cancelled by the server", job.id)
                job.stop("cancel")
                return
