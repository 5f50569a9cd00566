"""Dailies: which versions a day holds, the farm job that makes the reel and contact sheet, and the files
it leaves in the project's `export/dailies/<day>/vNNN/` folder once it is done."""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..context import SYSTEM, UnitOfWork
from ..crud import get_or_404
from ..db.base import utcnow
from ..db.engine import Database
from ..db.models import Job, Project, Scene, Shot, Version
from ..db.models_dailies import Dailies
from ..errors import Conflict
from ..events import EventHub
from ..farm import jobs
from ..farm.lease import outputs_dir
from ..farm.schemas import JobSubmit
from ..settings import Settings
from ..storage.atomic import fsync_dir
from ..storage.layout import ProjectLayout
from .schemas import DailiesOut

logger = logging.getLogger(__name__)

VIDEO_PREFIX, IMAGE_PREFIX = "video/", "image/"
ESTIMATE_S_PER_CLIP = 5.0
VERDICT_WORDS = {
    "approve": "approve 승인",
    "reject": "reject 반려",
    "needs_changes": "needs changes 수정 요청",
}
MIME_OF = {".mp4": "video/mp4", ".html": "text/html"}


class EmptyDay(Conflict):
    title, type_slug = "No versions that day", "dailies-empty-day"


# -- days ------------------------------------------------------------------------------------------------


def local_today(settings: Settings, now: datetime | None = None) -> date:
    """Today's date on the studio's clock (AIPIPE_TIMEZONE)."""
    return (now or utcnow()).astimezone(ZoneInfo(settings.timezone)).date()


def day_window(day: date, timezone: str) -> tuple[datetime, datetime]:
    """The day's first instant and the next day's, in UTC (a day with a DST change is 23 or 25 hours)."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def day_versions(session: Session, project_id: uuid.UUID, day: date, timezone: str) -> list[Any]:
    """Every version of the project made on `day` (studio time), grouped by shot in edit order (scene
    order, shot order), oldest first within a shot: rows of (Version, Shot, Scene)."""
    start, end = day_window(day, timezone)
    stmt = (
        select(Version, Shot, Scene)
        .join(Shot, Shot.id == Version.shot_id)
        .join(Scene, Scene.id == Shot.scene_id)
        .where(Version.project_id == project_id, Version.created_at >= start, Version.created_at < end)
        .order_by(
            Scene.sort_order,
            Scene.code,
            Shot.sort_order,
            Shot.code,
            Version.created_at,
            Version.stage,
            Version.number,
        )
    )
    return list(session.execute(stmt).all())


def _media(version: Version) -> tuple[str, Any]:
    for prefix, kind in ((VIDEO_PREFIX, "video"), (IMAGE_PREFIX, "image")):
        found = next((f for f in version.files if f.mime.startswith(prefix)), None)
        if found is not None:
            return kind, found
    return "none", None


def clip_of(version: Version, shot: Shot, scene: Scene, timezone: str) -> dict[str, Any]:
    """One clip of the job's params: the version's picture and the slate card's lines."""
    kind, media = _media(version)
    label = f"{version.stage} v{version.number:03d}"
    made = version.created_at.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")
    verdict = version.verdict or ""
    slate = [
        f"SHOT 샷  {shot.code}   SCENE 씬  {scene.code}",
        f"VERSION 버전  {label}",
        f"ARTIST 작업자  {version.created_by or '—'}",
        f"VERDICT 판정  {VERDICT_WORDS.get(verdict, '— 없음')}",
        f"MADE 만든 시각  {made}",
    ]
    if kind == "none":
        slate.append("NO PICTURE 그림 없음")
    return {
        "version_id": str(version.id),
        "shot": shot.code,
        "scene": scene.code,
        "stage": version.stage,
        "number": version.number,
        "kind": kind,
        "media_url": f"/api/versions/{version.id}/files/{media.id}" if media is not None else None,
        "media_sha256": media.sha256 if media is not None else None,
        "media_name": media.name if media is not None else "",
        "slate": slate,
        "labels": {
            "shot": shot.code,
            "version": label,
            "artist": version.created_by,
            "verdict": verdict,
            "made": made,
            "comment": version.comment,
        },
    }


# -- making ----------------------------------------------------------------------------------------------


def _fraction(project: Project) -> tuple[int, int]:
    return max(1, project.fps_num), max(1, project.fps_den)


def _size(project: Project, height: int) -> tuple[int, int]:
    """The reel's frame: the project's aspect at `height` (never taller than the project), even sides."""
    h = min(height, project.height or height)
    w = round(h * (project.width or 16) / (project.height or 9))
    return max(16, w // 2 * 2), max(16, h // 2 * 2)


def make(
    uow: UnitOfWork, settings: Settings, project: Project, day: date, *, scheduled: bool = False
) -> Dailies:
    """Queue the day's dailies: a row and its farm job, in one transaction. A scheduled one for a project and
    day that already has one raises IntegrityError (the unique key: another replica was first). A day
    without versions: EmptyDay (409) when asked for, an `empty` row when scheduled."""
    session = uow.session
    tz = settings.timezone
    rows = day_versions(session, project.id, day, tz)
    layout = ProjectLayout.of(project)
    last = session.scalar(
        select(func.max(Dailies.number)).where(Dailies.project_id == project.id, Dailies.day == day)
    )
    number = (last or 0) + 1
    folder = f"{layout.build('export_dailies_dir')}/{day.isoformat()}/v{number:03d}"
    if not rows and not scheduled:
        raise EmptyDay(
            f"No versions were made in project {project.code} on {day.isoformat()} ({tz}): "
            "there is nothing for dailies.",
            field="date",
        )
    clips = [clip_of(version, shot, scene, tz) for version, shot, scene in rows]
    dailies = Dailies(
        project_id=project.id,
        day=day,
        number=number,
        trigger="scheduled" if scheduled else "manual",
        scheduled_day=day if scheduled else None,
        timezone=tz,
        status="queued" if clips else "empty",
        path=folder,
        clips=[{k: v for k, v in c.items() if k not in ("media_url", "media_sha256")} for c in clips],
        created_by=uow.actor.name,
        finished_at=None if clips else utcnow(),
    )
    session.add(dailies)
    session.flush()  # the unique keys first: a second replica stops here, before any job is queued
    if clips:
        num, den = _fraction(project)
        width, height = _size(project, settings.dailies_height)
        rate = num / den
        stem = f"{project.code}_dailies_{day.isoformat()}_v{number:03d}"
        params = {
            "dailies_id": str(dailies.id),
            "project": project.code,
            "day": day.isoformat(),
            "timezone": tz,
            "fps_num": num,
            "fps_den": den,
            "width": width,
            "height": height,
            "slate_frames": max(1, round(settings.dailies_slate_s * rate)),
            "still_frames": max(1, round(settings.dailies_still_s * rate)),
            "reel_name": f"{stem}.mp4",
            "sheet_name": f"{stem}_contact_sheet.html",
            "clips": clips,
        }
        submit = JobSubmit(
            type="dailies",
            project_id=project.id,
            params=params,
            priority=40,
            estimate_s=ESTIMATE_S_PER_CLIP * len(clips) + 10,
        )
        job_id = uuid.uuid4()
        uow.record(
            "dailies.created", "dailies", dailies.id, project_id=project.id, data={"day": day.isoformat()}
        )
        jobs.submit(uow, settings, submit, extra={"id": job_id})  # commits the row and the job
        dailies.job_id = job_id
    else:
        uow.record(
            "dailies.created", "dailies", dailies.id, project_id=project.id, data={"day": day.isoformat()}
        )
    uow.commit()
    return dailies


# -- finishing -------------------------------------------------------------------------------------------


def _place(source: Path, target: Path) -> None:
    """`target` holds `source`'s bytes, written atomically (a hard link when the filesystem allows)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        os.link(source, tmp)
    except OSError:
        shutil.copyfile(source, tmp)
    os.replace(tmp, target)


def settle(db: Database, hub: EventHub | None, settings: Settings, dailies_id: uuid.UUID) -> None:
    """Bring a dailies up to date with its job: running, failed, or done with its files in the project's
    folder. Safe to call again and from every replica (the files land atomically; the row changes once).
    The files are placed before the write transaction, so no write lock is held while a reel is copied."""
    with db.read_sessions() as session:
        if not _next_values(session, settings, dailies_id):
            return
    with db.write_sessions() as session:
        dailies = session.get(Dailies, dailies_id, with_for_update=True)
        values = _next_values(session, settings, dailies_id)  # again: another replica may have been first
        if dailies is None or not values:
            return
        for key, value in values.items():
            setattr(dailies, key, value)
        uow = UnitOfWork(session=session, hub=hub, actor=SYSTEM)
        uow.record(
            "dailies.updated",
            "dailies",
            dailies.id,
            project_id=dailies.project_id,
            changes={"status": values.get("status")},
        )
        try:
            uow.commit()
        except IntegrityError:
            session.rollback()


def _next_values(session: Session, settings: Settings, dailies_id: uuid.UUID) -> dict[str, Any]:
    """What the dailies row should change to, given its job (empty: nothing); a finished job's files are
    put in place on the way."""
    dailies = session.get(Dailies, dailies_id)
    if dailies is None or dailies.status in ("succeeded", "empty"):
        return {}
    job = session.get(Job, dailies.job_id) if dailies.job_id else None
    if job is None:
        job = session.scalar(
            select(Job)
            .where(Job.type == "dailies", Job.project_id == dailies.project_id)
            .where(Job.params["dailies_id"].as_string() == str(dailies.id))
        )
    if job is None:
        if dailies.status == "failed":
            return {}
        return {"status": "failed", "error": "its farm job is gone", "finished_at": utcnow()}
    if dailies.status == "failed" and job.status in ("queued", "running"):  # a wrangler retried it
        return {"status": job.status, "error": "", "finished_at": None, "job_id": job.id}
    if job.status == "running" and dailies.status == "queued":
        return {"status": "running", "job_id": job.id}
    if job.status in ("failed", "cancelled") and dailies.status != "failed":
        error = job.error or f"the job was {job.status}"
        return {"status": "failed", "error": error, "job_id": job.id, "finished_at": utcnow()}
    if job.status == "succeeded":
        return _collect(settings, dailies, job)
    return {}


def _collect(settings: Settings, dailies: Dailies, job: Job) -> dict[str, Any]:
    folder = settings.resolved_storage_root / dailies.path
    files: list[dict[str, Any]] = []
    source_dir = outputs_dir(settings, job.id)
    placed = False
    for output in job.outputs:
        target = folder / output["name"]
        # Written atomically, whole: a file of the right size is the job's (no re-hash of a large reel).
        if not target.is_file() or target.stat().st_size != output["size"]:
            source = source_dir / output["name"]
            if not source.is_file():
                error = f"the job's output {output['name']} is not on the server any more"
                return {"status": "failed", "error": error, "job_id": job.id, "finished_at": utcnow()}
            _place(source, target)
            placed = True
        files.append(
            {
                "name": output["name"],
                "path": f"{dailies.path}/{output['name']}",
                "size": output["size"],
                "sha256": output["sha256"],
                "mime": MIME_OF.get(target.suffix.lower(), "application/octet-stream"),
            }
        )
    if placed:
        fsync_dir(folder)
    report = (job.result or {}).get("provenance") or {}
    made = {str(c.get("version_id")): c for c in report.get("clips") or [] if isinstance(c, dict)}
    clips = [
        {
            **clip,
            "frames": int(made.get(clip["version_id"], {}).get("frames") or 0),
            "slate_frames": int(made.get(clip["version_id"], {}).get("slate_frames") or 0),
        }
        for clip in dailies.clips
    ]
    return {
        "status": "succeeded",
        "job_id": job.id,
        "files": files,
        "clips": clips,
        "frames": int(report.get("reel_frames") or 0),
        "finished_at": job.finished_at or utcnow(),
    }


# -- reading ---------------------------------------------------------------------------------------------


def dailies_out(dailies: Dailies, project_code: str) -> DailiesOut:
    return DailiesOut.model_validate(
        {
            **{c.key: getattr(dailies, c.key) for c in Dailies.__table__.columns},
            "project_code": project_code,
            "files": [{**f, "url": f"/api/dailies/{dailies.id}/files/{f['name']}"} for f in dailies.files],
            "versions": len(dailies.clips),
        }
    )


def get(session: Session, dailies_id: uuid.UUID) -> Dailies:
    return get_or_404(session, Dailies, dailies_id, "dailies")
