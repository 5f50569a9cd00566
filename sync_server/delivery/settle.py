"""What a delivery's jobs made, recorded: each file linked into `delivery/vNNN/`, probed (PyAV) against what
was asked, and the delivery marked done or failed.

`settle` runs when a conform or master job ends (the `Settler` listens to job events) and whenever a
delivery still open is read, so a missed event (a restart, another server process) never leaves one
running. It is idempotent: a file already recorded is not linked or probed again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from aipipe_shared.delivery import audio_tracks, check_master, expected_master, frame_count, probe_movie

from ..context import SYSTEM, UnitOfWork
from ..db.models import Job
from ..db.models_delivery import Delivery
from ..deps import Services
from ..storage.atomic import fsync_dir
from .plan import TRACKS
from .service import delivery_out, job_ids, jobs_of

logger = logging.getLogger(__name__)
JOB_TYPES = ("conform", "master")
JOB_FINISHED = ("succeeded", "failed", "cancelled")
DONE = ("succeeded", "failed")


class Settler:
    """The hub listener: settles the deliveries whose conform or master job has just ended."""

    def __init__(self, services: Services) -> None:
        self._services = services

    @staticmethod
    def wants(message: dict[str, Any]) -> bool:
        data = message.get("data") or {}
        return (
            message.get("entity") == "job"
            and data.get("type") in JOB_TYPES
            and data.get("status") in JOB_FINISHED
        )

    def handle(self, messages: list[dict[str, Any]]) -> None:
        ended = {str(m["entity_id"]) for m in messages}
        projects = {m.get("project_id") for m in messages}
        with self._services.db.read_sessions() as session:
            rows = session.scalars(
                select(Delivery).where(
                    Delivery.status.in_(("queued", "running")),
                    Delivery.project_id.in_([uuid.UUID(p) for p in projects if p]),
                )
            ).all()
            ids = [row.id for row in rows if ended & {str(i) for i in job_ids(row)}]
        for delivery_id in ids:
            try:
                settle(self._services, delivery_id)
            except Exception:
                logger.exception(
                    "delivery: recording a finished job failed", extra={"delivery": str(delivery_id)}
                )


def needs_settling(row: Delivery, jobs: dict[uuid.UUID, Job]) -> bool:
    """Whether a job of an open delivery ended and its outcome is not recorded yet."""
    if row.status in DONE:
        return False
    conform = jobs.get(row.conform_job_id) if row.conform_job_id else None
    if conform is not None and conform.status in JOB_FINISHED and row.conform is None:
        return True
    for entry in row.masters or []:
        job = jobs.get(uuid.UUID(str(entry["job_id"])))
        if entry["status"] not in DONE and (job is None or job.status in JOB_FINISHED):
            return True
    return row.status == "queued" and any(j.status == "running" for j in jobs.values())


def settle(services: Services, delivery_id: uuid.UUID) -> None:
    """Record what the delivery's ended jobs made (see the module's docstring)."""
    with services.db.read_sessions() as session:
        row = session.get(Delivery, delivery_id)
        if row is None or not needs_settling(row, jobs_of(session, [row])):
            return
    root = services.settings.resolved_storage_root
    with services.db.write_sessions() as session:
        row = session.get(Delivery, delivery_id)
        if row is None or row.status in DONE:
            return
        jobs = jobs_of(session, [row])
        conform_job = jobs.get(row.conform_job_id) if row.conform_job_id else None
        errors: list[str] = []
        if conform_job is not None and row.conform is None:
            if conform_job.status == "succeeded":
                conform, problem = _record_conform(services, root, row, conform_job)
                row.conform = conform
                if problem:
                    errors.append(problem)
            elif conform_job.status in ("failed", "cancelled"):
                errors.append(f"conform: {conform_job.error or conform_job.status}")
        masters = []
        for entry in row.masters or []:
            entry = dict(entry)
            job = jobs.get(uuid.UUID(str(entry["job_id"])))
            if entry["status"] not in DONE:
                if job is None:
                    entry.update(status="failed", error="its job was deleted")
                elif job.status == "succeeded":
                    entry.update(_record_master(services, root, row, job, entry["format"]))
                elif job.status in ("failed", "cancelled"):
                    entry.update(status="failed", error=job.error or job.status)
            if entry["status"] == "failed":
                errors.append(f"{entry['format']} master: {entry.get('error', '')}")
            masters.append(entry)
        row.masters = masters
        before = row.status
        states = [_conform_state(row, conform_job), *(m["status"] for m in masters)]
        if all(state in DONE for state in states):
            row.status = "failed" if errors else "succeeded"
            row.finished_at = datetime.now(UTC)
        elif any(state != "queued" for state in states):
            row.status = "running"
        row.error = "; ".join(errors)
        session.flush()
        uow = UnitOfWork(session=session, hub=services.hub, actor=SYSTEM)
        out = delivery_out(session, row, jobs)
        action = f"delivery.{row.status}" if row.status != before else "delivery.updated"
        uow.record(action, "delivery", row.id, project_id=row.project_id, data=out.model_dump(mode="json"))
        uow.commit()


def _conform_state(row: Delivery, job: Job | None) -> str:
    if row.conform is not None:
        return "succeeded"
    if job is None:
        return "queued"
    if job.status in JOB_FINISHED:  # failed, cancelled, or made a file the check refused
        return "failed"
    return job.status


def _place(root: Path, row: Delivery, job: Job, suffix: str) -> tuple[dict[str, Any] | None, str]:
    """Link (or copy) the job's `suffix` output into the delivery's folder; its entry, or why not."""
    output = next((o for o in job.outputs or [] if str(o["name"]).endswith(suffix)), None)
    if output is None:
        return None, f"the job uploaded no {suffix} file"
    source = root / output["path"]
    folder = root / row.path
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / output["name"]
    if not target.is_file():
        partial = folder / f".{output['name']}.{uuid.uuid4().hex}.part"
        try:
            os.link(source, partial)  # same filesystem: no second copy of a master
        except OSError:
            shutil.copy2(source, partial)
        try:
            os.replace(partial, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                partial.unlink()
        fsync_dir(folder)
    entry = {
        "name": output["name"],
        "path": f"{row.path}/{output['name']}",
        "size": int(output["size"]),
        "sha256": output["sha256"],
    }
    return entry, ""


def _record_conform(
    services: Services, root: Path, row: Delivery, job: Job
) -> tuple[dict[str, Any] | None, str]:
    entry, problem = _place(root, row, job, ".mov")
    if entry is None:
        return None, f"conform: {problem}"
    path = root / entry["path"]
    frames, tracks = frame_count(path), audio_tracks(path)
    if frames != row.frames or tracks != len(TRACKS):
        return None, (
            f"conform: it has {frames} frames and {tracks} sound tracks; the edit has {row.frames} frames "
            f"and {len(TRACKS)} tracks"
        )
    report = (job.result or {}).get("provenance") or {}
    return {
        **entry,
        "frames": frames,
        "encoded": report.get("encoded", 0),
        "reused": report.get("reused", 0),
        "segments": report.get("segments", []),
        "tracks": report.get("tracks", list(TRACKS)),
    }, ""


def _record_master(services: Services, root: Path, row: Delivery, job: Job, fmt: str) -> dict[str, Any]:
    suffix = ".mov" if fmt == "prores_hq" else ".mp4"
    entry, problem = _place(root, row, job, suffix)
    if entry is None:
        return {"status": "failed", "error": problem}
    options = row.options or {}
    probe = probe_movie(root / entry["path"])
    fps = str((job.params or {}).get("fps"))
    expected = expected_master(
        fmt,
        int((job.params or {}).get("width", 0)),
        int((job.params or {}).get("height", 0)),
        fps,
        row.frames + int(options.get("slate_frames") or 0),
        options.get("range") == "full",
        str(options.get("audio_codec", "aac")),
    )
    problems = check_master(probe, expected)
    made = _master_made((job.result or {}).get("provenance") or {})
    if problems:
        error = "probe: " + "; ".join(problems)
        return {"status": "failed", "file": entry, "probe": probe, "error": error, **made}
    return {"status": "succeeded", "file": entry, "probe": probe, "error": "", **made}


def _master_made(report: dict[str, Any]) -> dict[str, Any]:
    """How the agent made a master (its job's provenance): the picture copied from the conform, or its shots
    encoded / reused from the agent's cache; the sound reused."""
    pieces = report.get("pieces") if isinstance(report.get("pieces"), dict) else None
    return {
        "copied_picture": bool(report.get("copied_picture")),
        "encoded": int(pieces["encoded"]) if pieces else None,
        "reused": int(pieces["reused"]) if pieces else None,
        "reused_sound": bool(report.get("reused_sound")),
    }
