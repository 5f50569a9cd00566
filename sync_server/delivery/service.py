"""Deliveries: queue a conform and its masters as farm jobs, and show them as the API reads them.

A delivery is `delivery/vNNN/` of the project: its conform (job type `conform`) and one master per format
(job type `master`, each waiting on the conform). What the jobs made is recorded by `settle.py`.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from aipipe_shared.delivery import PROFILES

from ..context import UnitOfWork
from ..crud import get_or_404
from ..db.models import Job, Project
from ..db.models_delivery import Delivery
from ..editorial.timeline import TimecodeError, parse_record_start
from ..errors import Conflict, Unprocessable
from ..farm import jobs as farm_jobs
from ..farm.schemas import JobSubmit
from ..settings import Settings
from ..storage.layout import ProjectLayout
from .plan import TRACKS, build_edit_plan, build_plan
from .schemas import ConformBody, ConformOut, DeliveryBody, DeliveryOut, FileOut, MasterOut

CONFORM_FPS = 150.0  # frames a second an agent conforms or encodes a master: the farm's estimate
MAX_TIMEOUT_S = 7 * 24 * 3600


def timecode(frames: int, num: int, den: int) -> str:
    """A length as HH:MM:SS:FF at the rate's nominal frames a second (for the slate)."""
    nominal = max(1, round(num / den))
    seconds, ff = divmod(frames, nominal)
    minutes, ss = divmod(seconds, 60)
    hh, mm = divmod(minutes, 60)
    return f"{hh:02d}:{mm:02d}:{ss:02d}:{ff:02d}"


def _check_options(project: Project, body: ConformBody) -> None:
    if project.width % 2 or project.height % 2:
        raise Unprocessable(
            f"The project's frame size {project.width}x{project.height} is odd; masters need even sizes.",
            field="width",
        )
    if not isinstance(body, DeliveryBody):
        return
    if body.audio_codec == "pcm" and any(PROFILES[f].extension != ".mov" for f in body.formats):
        raise Unprocessable(
            "PCM sound goes in a .mov: ask for prores_hq only, or for aac sound.", field="audio_codec"
        )
    if body.range == "full" and "prores_hq" in body.formats:
        raise Unprocessable(
            "ProRes is video (limited) range by definition; ask for full range in h264 or h265 only.",
            field="range",
        )
    if "timecode" in body.burn_ins:
        try:
            parse_record_start(body.record_start, project.fps_num, project.fps_den)
        except TimecodeError as exc:
            raise Unprocessable(str(exc), field="record_start") from exc


def submit(uow: UnitOfWork, settings: Settings, project_id: uuid.UUID, body: ConformBody) -> DeliveryOut:
    """Check the edit, number the delivery and queue its conform and (for a `DeliveryBody`) its masters.
    422 names every shot that cannot be conformed, before anything is queued."""
    session = uow.session
    root = settings.resolved_storage_root
    project = get_or_404(session, Project, project_id, "project")
    _check_options(project, body)
    plan = (
        build_plan(session, project, root, body.require_approval)
        if body.edit is None
        else build_edit_plan(session, project, root, body.edit, body.require_approval)
    )
    formats = list(dict.fromkeys(body.formats)) if isinstance(body, DeliveryBody) else []
    number = (
        session.scalar(select(func.max(Delivery.number)).where(Delivery.project_id == project.id)) or 0
    ) + 1
    layout = ProjectLayout.of(project, root)
    code = layout.templates.build("version_code", version=number)
    num, den = project.fps_num, project.fps_den
    frames = plan.frames
    slate_frames = (
        round(body.slate_seconds * num / den) if isinstance(body, DeliveryBody) and body.slate else 0
    )
    options: dict[str, Any] = {
        **body.model_dump(mode="json"),
        "formats": formats,
        "slate_frames": slate_frames,
    }
    row = Delivery(
        id=uuid.uuid4(),
        project_id=project.id,
        number=number,
        path=f"{layout.build('project_dir')}/delivery/{code}",
        options=options,
        plan=plan.plan,
        frames=frames,
        shots=len(plan.shots),
        created_by=uow.actor.name,
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict("Another delivery took the same number; ask again.") from exc
    common = {"fps": f"{num}/{den}", "width": project.width, "height": project.height}
    timeout = min(MAX_TIMEOUT_S, max(3600, frames))  # a second a frame at worst
    conform = farm_jobs.submit(
        uow,
        settings,
        JobSubmit(
            type="conform",
            project_id=project.id,
            params={
                "name": f"{project.code}_conform_{code}",
                **common,
                "profile": body.profile,
                "shots": plan.shots,
                "audio": {"tracks": plan.tracks},
            },
            priority=body.priority,
            estimate_s=max(10.0, frames / CONFORM_FPS),
            timeout_s=timeout,
        ),
    )
    masters = []
    if isinstance(body, DeliveryBody):
        for fmt in formats:
            params = {
                "name": f"{project.code}_{code}_{fmt}",
                "format": fmt,
                **common,
                "frames": frames,
                "range": body.range,
                "audio_codec": body.audio_codec,
                "conform_profile": body.profile,
                "slate": _slate(project, code, frames, slate_frames) if slate_frames else None,
                "burn_ins": _burn_ins(body, plan.plan),
            }
            job = farm_jobs.submit(
                uow,
                settings,
                JobSubmit(
                    type="master",
                    project_id=project.id,
                    params=params,
                    priority=body.priority,
                    depends_on=[conform.id],
                    estimate_s=max(10.0, frames / CONFORM_FPS),
                    timeout_s=timeout,
                ),
            )
            masters.append({"format": fmt, "job_id": str(job.id), "status": "queued"})
    row = get_or_404(session, Delivery, row.id, "delivery")
    row.conform_job_id = conform.id
    row.masters = masters
    session.flush()
    out = delivery_out(session, row)
    uow.record("delivery.queued", "delivery", row.id, project_id=project.id, data=out.model_dump(mode="json"))
    uow.commit()
    return out


def _slate(project: Project, code: str, frames: int, slate_frames: int) -> dict[str, Any]:
    length = timecode(frames, project.fps_num, project.fps_den)
    return {
        "lines": [
            f"{project.name} ({project.code})",
            f"Delivery {code}",
            datetime.now(UTC).date().isoformat(),
            f"Duration {length} ({frames} frames)",
        ],
        "frames": slate_frames,
    }


def _burn_ins(body: DeliveryBody, plan: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not body.burn_ins:
        return None
    shots = [{"code": p["code"], "start": p["start"], "frames": p["frames"]} for p in plan]
    return {
        "shots": shots if "shot" in body.burn_ins else [],
        "timecode": body.record_start if "timecode" in body.burn_ins else None,
        "frame": "frame" in body.burn_ins,
    }


# -- reading ------------------------------------------------------------------------------------------


def job_ids(row: Delivery) -> list[uuid.UUID]:
    ids = [row.conform_job_id] if row.conform_job_id else []
    return ids + [uuid.UUID(str(m["job_id"])) for m in row.masters or []]


def jobs_of(session: Session, rows: list[Delivery]) -> dict[uuid.UUID, Job]:
    ids = [i for row in rows for i in job_ids(row)]
    return {job.id: job for job in session.scalars(select(Job).where(Job.id.in_(ids)))} if ids else {}


def file_out(row: Delivery, entry: dict[str, Any]) -> FileOut:
    return FileOut(
        name=entry["name"],
        path=entry["path"],
        url=f"/api/deliveries/{row.id}/files/{entry['name']}",
        size=int(entry["size"]),
        sha256=str(entry["sha256"]),
    )


def conform_status(row: Delivery, job: Job | None) -> str:
    if row.conform is not None:
        return "succeeded"
    if job is None:
        return "failed" if row.conform_job_id is None and row.status == "failed" else "queued"
    if job.status in ("failed", "cancelled") or (job.status == "succeeded" and row.status == "failed"):
        return "failed"
    return "running" if job.status in ("running", "succeeded") else "queued"


def delivery_out(session: Session, row: Delivery, jobs: dict[uuid.UUID, Job] | None = None) -> DeliveryOut:
    jobs = jobs_of(session, [row]) if jobs is None else jobs
    conform_job = jobs.get(row.conform_job_id) if row.conform_job_id else None
    c_status = conform_status(row, conform_job)
    parts: list[tuple[float, str]] = [
        (
            1.0 if c_status in ("succeeded", "failed") else _job_progress(conform_job),
            _stage("conform", conform_job),
        )
    ]
    masters = []
    for entry in row.masters or []:
        job = jobs.get(uuid.UUID(str(entry["job_id"])))
        done = entry["status"] in ("succeeded", "failed")
        parts.append((1.0 if done else _job_progress(job), _stage(f"{entry['format']} master", job)))
        masters.append(
            MasterOut(
                format=entry["format"],
                status="running"
                if not done and job is not None and job.status == "running"
                else entry["status"],
                job_id=uuid.UUID(str(entry["job_id"])),
                progress=1.0 if done else _job_progress(job),
                stage=job.stage_text if job is not None and not done else "",
                file=file_out(row, entry["file"]) if entry.get("file") else None,
                probe=entry.get("probe"),
                error=entry.get("error", ""),
                copied_picture=bool(entry.get("copied_picture")),
                encoded=entry.get("encoded"),
                reused=entry.get("reused"),
                reused_sound=bool(entry.get("reused_sound")),
            )
        )
    conform = None
    if row.conform is not None:
        conform = ConformOut(
            **file_out(row, row.conform).model_dump(),
            frames=int(row.conform.get("frames", row.frames)),
            encoded=int(row.conform.get("encoded", 0)),
            reused=int(row.conform.get("reused", 0)),
            tracks=list(row.conform.get("tracks") or TRACKS),
        )
    return DeliveryOut(
        id=row.id,
        project_id=row.project_id,
        number=row.number,
        status=row.status,  # type: ignore[arg-type]
        progress=round(sum(p for p, _ in parts) / len(parts), 3),
        stage=next((s for _, s in parts if s), ""),
        path=row.path,
        options=row.options or {},
        frames=row.frames,
        shots=row.shots,
        plan=row.plan or [],
        conform_job_id=row.conform_job_id,
        conform_status=c_status,  # type: ignore[arg-type]
        conform=conform,
        masters=masters,
        error=row.error,
        created_by=row.created_by,
        created_at=row.created_at,
        finished_at=row.finished_at,
    )


def _job_progress(job: Job | None) -> float:
    if job is None:
        return 0.0
    return 1.0 if job.status == "succeeded" else float(job.progress or 0.0)


def _stage(what: str, job: Job | None) -> str:
    if job is None or job.status != "running":
        return ""
    return f"{what}: {job.stage_text}" if job.stage_text else what


def list_deliveries(session: Session, project_id: uuid.UUID) -> list[DeliveryOut]:
    get_or_404(session, Project, project_id, "project")
    rows = list(
        session.scalars(
            select(Delivery).where(Delivery.project_id == project_id).order_by(Delivery.number.desc())
        )
    )
    jobs = jobs_of(session, rows)
    return [delivery_out(session, row, jobs) for row in rows]
