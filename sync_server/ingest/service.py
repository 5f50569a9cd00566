"""One ingest run: find → probe in parallel → match → register → scan list. Each scan stands alone: a
corrupt or unmatched one is reported and skipped, never the end of the run."""

from __future__ import annotations

import logging
import tempfile
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from ..context import Principal, UnitOfWork
from ..db.engine import Database
from ..db.models import Project, Shot
from ..errors import ApiError
from . import match, probe, register, report
from .scan import Found, find
from .settings import IngestSettings

logger = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]  # (phase, done, total)


@dataclass
class Options:
    stage: str | None = None  # None: sequences as settings.sequence_stage, movies as settings.movie_stage
    copy: bool = False
    edl: Path | None = None
    pattern: str | None = None
    dry_run: bool = False
    handles: tuple[int, int] = (0, 0)  # head and tail handle frames the scans hold (stated; default none)
    report: Path | None = None
    lang: str = "en"


@dataclass
class Outcome:
    scans: list[dict[str, Any]] = field(default_factory=list)
    report: str | None = None

    def count(self, result: str) -> int:
        return sum(1 for s in self.scans if s["result"] == result)

    def as_dict(self) -> dict[str, Any]:
        results = ("registered", "matched", "unmatched", "skipped", "failed")
        return {"summary": {r: self.count(r) for r in results}, "scans": self.scans, "report": self.report}


def ingest(
    db: Database,
    actor: Principal,
    storage_root: Path,
    project_id: uuid.UUID,
    root: Path,
    settings: IngestSettings,
    options: Options,
    progress: Progress | None = None,
) -> Outcome:
    tick = progress or (lambda phase, done, total: None)
    with db.read_sessions() as session:
        project = session.get(Project, project_id)
        if project is None:
            raise ValueError(f"No project with id {project_id}.")
        shots = {
            code: sid
            for sid, code in session.execute(select(Shot.id, Shot.code).where(Shot.project_id == project_id))
        }
        fps_num, fps_den = project.fps_num, project.fps_den
    matcher = match.ShotMatcher(list(shots), options.pattern or settings.shot_pattern)
    events = match.read_edl(options.edl, fps_num, fps_den, matcher) if options.edl else []
    found = find(root, settings.image_extensions, settings.movie_extensions)
    outcome = Outcome()
    with tempfile.TemporaryDirectory(prefix="aipipe-ingest-") as scratch:
        probed = _probe_all(found, settings, Path(scratch), tick)
        thumbnails: list[Path | None] = []
        for index, item in enumerate(probed):
            tick("register", index, len(probed))
            row = _describe(item)
            event = match.match_edl(item.found, events) if events else None
            code = event.shot_code if event else matcher.for_scan(item.found, root)
            row["edl"] = f"#{event.number} {event.clip} {event.source_in}-{event.source_out}" if event else ""
            row["shot"] = code or ""
            stage = options.stage or (
                settings.movie_stage if item.found.kind == "movie" else settings.sequence_stage
            )
            if not item.usable:
                row.update(result="skipped", problem=item.error)
            elif code is None:
                row.update(
                    result="unmatched", problem="no shot code in the name" + (" or the EDL" if events else "")
                )
            elif options.dry_run:
                row.update(result="matched", version=f"{stage} (dry run)")
            else:
                _register(db, actor, storage_root, shots[code], stage, item, options, row)
            outcome.scans.append(row)
            thumbnails.append(item.thumbnail)
        tick("register", len(probed), len(probed))
        if options.report is not None:
            report.write(
                options.report, outcome.scans, thumbnails, settings.report_thumbnail_px, options.lang
            )
            outcome.report = str(options.report)
    return outcome


def _probe_all(
    found: list[Found], settings: IngestSettings, scratch: Path, tick: Progress
) -> list[probe.Probed]:
    results: list[probe.Probed | None] = [None] * len(found)
    tick("probe", 0, len(found))
    with ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="ingest-probe") as pool:
        futures = {
            pool.submit(
                probe.probe, item, settings.colorspaces, scratch / f"{index}.jpg", settings.thumbnail_px
            ): index
            for index, item in enumerate(found)
        }
        for done, future in enumerate(as_completed(futures), start=1):
            results[futures[future]] = future.result()
            tick("probe", done, len(found))
    return [r for r in results if r is not None]


def _register(
    db: Database,
    actor: Principal,
    storage_root: Path,
    shot_id: uuid.UUID,
    stage: str,
    item: probe.Probed,
    options: Options,
    row: dict[str, Any],
) -> None:
    try:
        with db.write_sessions() as session:
            uow = UnitOfWork(session=session, hub=None, actor=actor)
            version = register.register(
                uow, storage_root, shot_id, stage, item, options.copy, options.handles
            )
        row.update(result="registered", version=f"{stage} v{version.number:03d}", version_id=str(version.id))
    except (ApiError, OSError) as exc:
        logger.warning("scan not registered", extra={"scan": item.found.name, "error": str(exc)})
        row.update(result="failed", problem=getattr(exc, "detail", None) or str(exc))


def _describe(item: probe.Probed) -> dict[str, Any]:
    facts = item.media
    width, height = facts.get("width"), facts.get("height")
    return {
        "name": item.found.name,
        "kind": item.found.kind,
        "folder": str(item.found.folder),
        "frame_range": item.found.frame_range,
        "frames": facts.get("frames", len(item.found.files)),
        "missing": _ranges(item.found.missing),
        "missing_frames": item.found.missing,
        "corrupt": "; ".join(f"{name}: {why}" for name, why in item.corrupt.items()),
        "corrupt_files": sorted(item.corrupt),
        "resolution": f"{width}x{height}" if width and height else "",
        "fps": facts.get("fps") or "",
        "timecode": facts.get("timecode") or "",
        "codec": facts.get("codec") or "",
        "duration": facts.get("duration"),
        "colorspace": facts.get("colorspace") or "",
        "exr": facts.get("exr"),
        "problem": "",
        "version": "",
    }


def _ranges(frames: list[int]) -> str:
    """[5, 6, 7, 9] -> '5-7, 9'."""
    parts: list[str] = []
    start = previous = None
    for frame in frames:
        if previous is not None and frame == previous + 1:
            previous = frame
            continue
        if start is not None:
            parts.append(f"{start}-{previous}" if start != previous else str(start))
        start = previous = frame
    if start is not None:
        parts.append(f"{start}-{previous}" if start != previous else str(start))
    return ", ".join(parts)
