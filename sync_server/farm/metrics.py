"""The farm in Prometheus: gauges from a snapshot read in a worker thread every few seconds (a scrape only
reads the cached snapshot, never the database), and counters/histograms fed by this process's own commits
(so that with several server processes each job transition is counted once, by the process that made it)."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from ..db.base import utcnow
from ..db.engine import Database
from ..db.models import Agent, Job
from ..settings import Settings

logger = logging.getLogger(__name__)

MIB = 1024 * 1024
# How the agent words a ComfyUI node error (render_agent/comfyui_messages.py): "node 12 (KSampler) failed: …".
NODE_ERROR = re.compile(r"\bnode \S+ \(([^)]{1,120})\) failed")
DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400)
WAIT_BUCKETS = (0.5, 1, 5, 15, 30, 60, 300, 600, 1800, 3600, 7200, 21600, 86400)


def _aware(moment: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes (stored as UTC).
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=utcnow().tzinfo)


def _parse(value: Any) -> datetime | None:
    return _aware(datetime.fromisoformat(value)) if isinstance(value, str) else None


@dataclass
class FarmSnapshot:
    """The farm's state as counted at `taken_at` (monotonic seconds); empty until the first read."""

    jobs: dict[tuple[str, str], int] = field(default_factory=dict)  # (state, type) → jobs
    queue_depth: int = 0  # queued jobs whose retry back-off is over
    oldest_queued_s: float = 0.0
    agents: dict[str, int] = field(default_factory=dict)  # state (offline computed) → agents
    gpus: list[dict[str, Any]] = field(default_factory=list)  # readings of agents that are not offline
    seen_ago: dict[str, float] = field(default_factory=dict)  # agent → seconds since it was last heard
    taken_at: float | None = None


def read_snapshot(db: Database, settings: Settings) -> FarmSnapshot:
    """Count jobs and agents (blocking: runs in a worker thread)."""
    now = utcnow()
    snapshot = FarmSnapshot()
    with db.read_sessions() as session:
        for state, job_type, count in session.execute(
            select(Job.status, Job.type, func.count()).group_by(Job.status, Job.type)
        ):
            snapshot.jobs[(state, job_type)] = count
        ready = (Job.status == "queued") & ((Job.not_before.is_(None)) | (Job.not_before <= now))
        depth, oldest = session.execute(select(func.count(), func.min(Job.created_at)).where(ready)).one()
        snapshot.queue_depth = depth or 0
        oldest = _aware(oldest)
        snapshot.oldest_queued_s = max(0.0, (now - oldest).total_seconds()) if oldest else 0.0
        offline_after = timedelta(seconds=settings.farm_agent_offline_s)
        for name, state, last_seen, gpus in session.execute(
            select(Agent.name, Agent.state, Agent.last_seen_at, Agent.gpus)
        ):
            last_seen = _aware(last_seen)
            if last_seen is not None:
                snapshot.seen_ago[name] = max(0.0, (now - last_seen).total_seconds())
            shown = "offline" if last_seen is None or now - last_seen > offline_after else state
            snapshot.agents[shown] = snapshot.agents.get(shown, 0) + 1
            if shown != "offline":
                snapshot.gpus.extend({"agent": name, **gpu} for gpu in gpus or [])
    snapshot.taken_at = time.monotonic()
    return snapshot


class FarmCollector(Collector):
    """Yields the gauges of the newest snapshot; a scrape costs no query."""

    def __init__(self) -> None:
        self.snapshot = FarmSnapshot()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        snap = self.snapshot
        jobs = GaugeMetricFamily("aipipe_farm_jobs", "Jobs by state and type", labels=["state", "type"])
        for (state, job_type), count in sorted(snap.jobs.items()):
            jobs.add_metric([state, job_type], count)
        yield jobs
        yield GaugeMetricFamily(
            "aipipe_farm_queue_depth", "Queued jobs whose retry back-off is over", value=snap.queue_depth
        )
        yield GaugeMetricFamily(
            "aipipe_farm_oldest_queued_seconds",
            "Age of the oldest queued job (0 when none)",
            value=snap.oldest_queued_s,
        )
        agents = GaugeMetricFamily("aipipe_farm_agents", "Agents by state", labels=["state"])
        for state, count in sorted(snap.agents.items()):
            agents.add_metric([state], count)
        yield agents
        seen = GaugeMetricFamily(
            "aipipe_farm_agent_last_seen_seconds", "Seconds since each agent was last heard", labels=["agent"]
        )
        for agent, seconds in sorted(snap.seen_ago.items()):
            seen.add_metric([agent], seconds)
        yield seen
        by_gpu = ["agent", "gpu", "name"]
        util = GaugeMetricFamily("aipipe_farm_gpu_utilization_percent", "GPU utilisation", labels=by_gpu)
        used = GaugeMetricFamily("aipipe_farm_gpu_vram_used_bytes", "GPU memory in use (NVML)", labels=by_gpu)
        total = GaugeMetricFamily("aipipe_farm_gpu_vram_total_bytes", "GPU memory (NVML)", labels=by_gpu)
        temp = GaugeMetricFamily("aipipe_farm_gpu_temperature_celsius", "GPU temperature", labels=by_gpu)
        for gpu in snap.gpus:
            key = [gpu["agent"], str(gpu.get("index", "")), str(gpu.get("name", ""))]
            # Only what the agent reported: a reading it did not send is left out, never zero.
            if gpu.get("utilization_pct") is not None:
                util.add_metric(key, gpu["utilization_pct"])
            if gpu.get("vram_used_mb") is not None:
                used.add_metric(key, gpu["vram_used_mb"] * MIB)
            if gpu.get("vram_total_mb") is not None:
                total.add_metric(key, gpu["vram_total_mb"] * MIB)
            if gpu.get("temperature_c") is not None:
                temp.add_metric(key, gpu["temperature_c"])
        yield from (util, used, total, temp)
        age = time.monotonic() - snap.taken_at if snap.taken_at is not None else -1.0
        yield GaugeMetricFamily(
            "aipipe_farm_snapshot_age_seconds",
            "Seconds since the farm gauges were counted (-1: not yet)",
            value=age,
        )


class FarmMetrics:
    """The farm's metrics in one app's registry: snapshot gauges plus counters fed by commits."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.collector = FarmCollector()
        registry.register(self.collector)
        self.duration = Histogram(
            "aipipe_farm_job_duration_seconds",
            "Run time of jobs that ended running (started to succeeded or failed)",
            ["type", "outcome"],
            registry=registry,
            buckets=DURATION_BUCKETS,
        )
        self.wait = Histogram(
            "aipipe_farm_job_wait_seconds",
            "Time from submission to the first start of a job",
            ["type"],
            registry=registry,
            buckets=WAIT_BUCKETS,
        )
        self.started = Counter(
            "aipipe_farm_jobs_started_total",
            "Jobs handed to an agent (each try)",
            ["type"],
            registry=registry,
        )
        self.leases_expired = Counter(
            "aipipe_farm_leases_expired_total",
            "Leases lost without the agent finishing (not renewed in time, or the agent restarted)",
            registry=registry,
        )
        self.node_errors = Counter(
            "aipipe_farm_comfyui_errors_total",
            "ComfyUI node errors reported by agents, by node class",
            ["node_class"],
            registry=registry,
        )

    def refresh(self, db: Database, settings: Settings) -> None:
        """Count the farm now (blocking)."""
        self.collector.snapshot = read_snapshot(db, settings)

    async def refresh_forever(self, db: Database, settings: Settings) -> None:
        """Recount every `metrics_farm_refresh_s` in a worker thread until cancelled."""
        while True:
            try:
                await asyncio.to_thread(self.refresh, db, settings)
            except Exception:
                logger.exception("counting the farm for /metrics failed; trying again")
            await asyncio.sleep(settings.metrics_farm_refresh_s)

    def on_commit(self, messages: list[dict[str, Any]]) -> None:
        """Commit listener of the event hub (this process's commits only): job transitions and failures."""
        for message in messages:
            if message.get("entity") != "job" or not message.get("data"):
                continue
            try:
                self._note(message["data"], message.get("changes") or {})
            except (KeyError, TypeError, ValueError):
                logger.exception("farm metrics: unexpected job event %s", message.get("id"))

    def _note(self, job: dict[str, Any], changes: dict[str, Any]) -> None:
        status = changes.get("status")
        if status and status[1] == "running":
            self.started.labels(job["type"]).inc()
        if status and status[1] == "running" and job.get("attempts") == 1:
            started, created = _parse(job.get("started_at")), _parse(job.get("created_at"))
            if started and created:
                self.wait.labels(job["type"]).observe(max(0.0, (started - created).total_seconds()))
        if status and status[0] == "running" and status[1] in ("succeeded", "failed"):
            started, finished = _parse(job.get("started_at")), _parse(job.get("finished_at"))
            if started and finished:
                seconds = max(0.0, (finished - started).total_seconds())
                self.duration.labels(job["type"], status[1]).observe(seconds)
        if "lease_losses" in changes:
            self.leases_expired.inc()
        if "failures" in changes and job.get("failures"):
            newest = job["failures"][-1]
            found = NODE_ERROR.search(str(newest.get("error", "")))
            if found:
                self.node_errors.labels(found.group(1)).inc()
