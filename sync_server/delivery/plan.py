"""What a conform is made of: the project's shots in edit order, each with its approved movie, the cut range
its version records (head handle, frame count: never the project's assumed handles) and its sound; or the
edit a client sends (the VSE's strips: shot, version and cut range each), checked the same way.

Everything is checked before a job is queued, so that a delivery that cannot be made is refused at once
with every shot that stops it named (422), not after a farm run.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from aipipe_shared.editorial import REJECTED
from aipipe_shared.naming import PathOutsideRootError, resolve_inside

from ..db.models import Project, Shot, Version, VersionFile
from ..editorial.edit import load_edit
from ..errors import Unprocessable
from .schemas import EditCut

# Approved movies, the later stage of the pipeline first (a recipe's upscale beats its render).
CONFORM_STAGES = ("final", "comp", "upscale", "interp", "render", "playblast")
TRACKS = ("reference", "temp")  # the conform's sound tracks, in order; temp is the `audio` stage


@dataclass
class ConformPlan:
    """The agent's params (shots, audio) and the record kept with the delivery (plan)."""

    shots: list[dict[str, Any]]
    tracks: list[dict[str, Any]]
    plan: list[dict[str, Any]]

    @property
    def frames(self) -> int:
        return sum(int(s["frames"]) for s in self.shots)


def _url(version: Version, file: VersionFile) -> str:
    return f"/api/versions/{version.id}/files/{file.id}"


def _on_disk(root: Path, file: VersionFile) -> bool:
    try:
        return Path(resolve_inside(root, file.path)).is_file()
    except PathOutsideRootError:
        return False


def _movie(version: Version) -> VersionFile | None:
    return next((f for f in version.files if f.mime.startswith("video/")), None)


def _sound(version: Version) -> VersionFile | None:
    return next((f for f in version.files if f.mime.startswith("audio/")), None)


def _frames_held(version: Version, file: VersionFile, rate: Fraction) -> int | None:
    """Frames the movie holds at the project's rate, as its version (or its probe) says; None: unknown."""
    facts = file.media if isinstance(file.media, dict) else {}
    frames = version.frame_count if version.frame_count is not None else facts.get("frames")
    if not isinstance(frames, int | float):
        return None
    try:  # a 16 fps render of 81 frames covers 121 frames at 24
        own = Fraction(str(facts["fps"])) if facts.get("fps") else None
    except (ValueError, ZeroDivisionError):
        own = None
    if own is None or own <= 0 or own == rate:
        return int(frames)
    return int(frames * rate / own)


def build_plan(session: Session, project: Project, root: Path, require_approval: bool) -> ConformPlan:
    """The conform of the project's edit; Unprocessable naming every shot that cannot be conformed."""
    rate = Fraction(project.fps_num, project.fps_den)
    shots = list(
        session.scalars(
            select(Shot)
            .where(Shot.project_id == project.id, Shot.status != "omitted")
            .order_by(Shot.sort_order, Shot.code)
        )
    )
    if not shots:
        raise Unprocessable("The edit has no shots (all omitted or none made yet).", field="shots")
    by_shot: dict[uuid.UUID, list[Version]] = defaultdict(list)
    for version in session.scalars(
        select(Version)
        .where(Version.project_id == project.id, Version.stage.in_((*CONFORM_STAGES, "reference", "audio")))
        .options(selectinload(Version.files))
        .order_by(Version.number.desc())
    ):
        by_shot[version.shot_id].append(version)
    edit_media: dict[uuid.UUID, Any] = {}
    if not require_approval:
        edit_media = {s.shot_id: s.media for s in load_edit(session, project.id, root).shots}
    params: list[dict[str, Any]] = []
    plan: list[dict[str, Any]] = []
    clips: dict[str, list[dict[str, Any]]] = {track: [] for track in TRACKS}
    problems: list[dict[str, str]] = []
    start = 0
    for shot in shots:
        versions = by_shot.get(shot.id, [])
        chosen = _chosen(versions, edit_media.get(shot.id), require_approval)
        where = f"shots.{shot.code}"
        if chosen is None:
            rule = "approved movie" if require_approval else "movie in the edit"
            problems.append(
                {
                    "field": where,
                    "message": f"shot {shot.code} has no {rule} ({', '.join(CONFORM_STAGES)})",
                }
            )
            continue
        version, file = chosen
        label = f"{version.stage} v{version.number:03d}"
        if not _on_disk(root, file):
            problems.append({"field": where, "message": f"shot {shot.code}: the file of {label} is missing"})
            continue
        held = _frames_held(version, file, rate)
        source_in = version.handle_in or 0
        if held is not None and held - source_in < shot.duration_frames:
            problems.append(
                {
                    "field": where,
                    "message": f"shot {shot.code}: {label} holds {held} frames; from its head handle "
                    f"({source_in}) the cut needs {shot.duration_frames}",
                }
            )
            continue
        params.append(
            {
                "code": shot.code,
                "frames": shot.duration_frames,
                "source_in": source_in,
                "media": {"url": _url(version, file), "sha256": file.sha256, "name": file.name},
            }
        )
        entry: dict[str, Any] = {
            "shot_id": str(shot.id),
            "code": shot.code,
            "start": start,
            "frames": shot.duration_frames,
            "version_id": str(version.id),
            "version": label,
            "file": file.name,
            "source_in": source_in,
            "first_frame": version.first_frame,
            "frame_count": held,
        }
        _add_sound(versions, len(params) - 1, 0, rate, clips, entry)
        plan.append(entry)
        start += shot.duration_frames
    if problems:
        codes = ", ".join(p["field"].removeprefix("shots.") for p in problems)
        raise Unprocessable(f"Cannot conform shot(s) {codes}: {problems[0]['message']}.", errors=problems)
    tracks = [{"name": track, "clips": clips[track]} for track in TRACKS]
    return ConformPlan(params, tracks, plan)


def _add_sound(
    versions: list[Version],
    index: int,
    trim: int,
    rate: Fraction,
    clips: dict[str, list[dict[str, Any]]],
    entry: dict[str, Any],
) -> None:
    """The shot's newest sound of each track under cut `index`; `trim`: frames the cut starts after the
    picture's head handle (its sound starts as many frames later, never before its first sample)."""
    for track, stage in zip(TRACKS, ("reference", "audio"), strict=True):
        sound = _newest_sound(versions, stage)
        if sound is None:
            continue
        s_version, s_file = sound
        offset = max(0, (s_version.handle_in or 0) + trim)
        clips[track].append(
            {
                "shot": index,
                "url": _url(s_version, s_file),
                "sha256": s_file.sha256,
                "name": s_file.name,
                "offset_s": float(Fraction(offset) / rate),
            }
        )
        entry[track] = f"{s_version.stage} v{s_version.number:03d}"


def _chosen(
    versions: list[Version], edit_media: Any, require_approval: bool
) -> tuple[Version, VersionFile] | None:
    if not require_approval:
        if edit_media is None or edit_media.still:
            return None
        version = next((v for v in versions if v.id == edit_media.version_id), None)
        file = next((f for f in version.files if f.id == edit_media.file_id), None) if version else None
        return (version, file) if version is not None and file is not None else None
    for stage in CONFORM_STAGES:
        for version in versions:  # newest first
            if version.stage == stage and version.verdict == "approve":
                movie = _movie(version)
                if movie is not None:
                    return version, movie
    return None


def _newest_sound(versions: list[Version], stage: str) -> tuple[Version, VersionFile] | None:
    for version in versions:
        if version.stage == stage and version.verdict not in REJECTED:
            sound = _sound(version)
            if sound is not None:
                return version, sound
    return None


def build_edit_plan(
    session: Session, project: Project, root: Path, edit: list[EditCut], require_approval: bool
) -> ConformPlan:
    """The conform of an edit the client sends (the VSE's strips), in its order: each cut is the version's
    movie from `cut_in` to `cut_out`. Unprocessable naming `edit[i].<field>` for every cut that cannot be
    conformed."""
    rate = Fraction(project.fps_num, project.fps_den)
    shot_ids = {cut.shot_id for cut in edit}
    shots = {
        shot.id: shot
        for shot in session.scalars(select(Shot).where(Shot.project_id == project.id, Shot.id.in_(shot_ids)))
    }
    chosen = {
        version.id: version
        for version in session.scalars(
            select(Version)
            .where(Version.project_id == project.id, Version.id.in_({cut.version_id for cut in edit}))
            .options(selectinload(Version.files))
        )
    }
    sounds: dict[uuid.UUID, list[Version]] = defaultdict(list)
    for version in session.scalars(
        select(Version)
        .where(
            Version.project_id == project.id,
            Version.shot_id.in_(shot_ids),
            Version.stage.in_(("reference", "audio")),
        )
        .options(selectinload(Version.files))
        .order_by(Version.number.desc())
    ):
        sounds[version.shot_id].append(version)
    params: list[dict[str, Any]] = []
    plan: list[dict[str, Any]] = []
    clips: dict[str, list[dict[str, Any]]] = {track: [] for track in TRACKS}
    problems: list[dict[str, str]] = []
    start = 0
    for index, cut in enumerate(edit):
        where = f"edit[{index}]"
        checked = _check_cut(
            where, cut, shots.get(cut.shot_id), chosen.get(cut.version_id), root, rate, require_approval
        )
        if isinstance(checked, dict):
            problems.append(checked)
            continue
        shot, version, file = checked
        frames = cut.cut_out - cut.cut_in
        params.append(
            {
                "code": shot.code,
                "frames": frames,
                "source_in": cut.cut_in,
                "media": {"url": _url(version, file), "sha256": file.sha256, "name": file.name},
            }
        )
        entry: dict[str, Any] = {
            "shot_id": str(shot.id),
            "code": shot.code,
            "start": start,
            "frames": frames,
            "version_id": str(version.id),
            "version": f"{version.stage} v{version.number:03d}",
            "file": file.name,
            "source_in": cut.cut_in,
            "first_frame": version.first_frame,
            "frame_count": _frames_held(version, file, rate),
        }
        trim = cut.cut_in - (version.handle_in or 0)
        _add_sound(sounds.get(shot.id, []), len(params) - 1, trim, rate, clips, entry)
        plan.append(entry)
        start += frames
    if problems:
        where = ", ".join(p["field"] for p in problems)
        raise Unprocessable(f"Cannot conform {where}: {problems[0]['message']}.", errors=problems)
    tracks = [{"name": track, "clips": clips[track]} for track in TRACKS]
    return ConformPlan(params, tracks, plan)


def _check_cut(
    where: str,
    cut: EditCut,
    shot: Shot | None,
    version: Version | None,
    root: Path,
    rate: Fraction,
    require_approval: bool,
) -> tuple[Shot, Version, VersionFile] | dict[str, str]:
    """A cut of a sent edit: its shot, version and movie, or why it cannot be conformed (`field`,
    `message`)."""
    if shot is None:
        return {"field": f"{where}.shot_id", "message": f"no shot {cut.shot_id} in this project"}
    if shot.status == "omitted":
        return {
            "field": f"{where}.shot_id",
            "message": f"shot {shot.code} is omitted (push the edit, or remove its strip)",
        }
    if version is None or version.shot_id != shot.id:
        return {
            "field": f"{where}.version_id",
            "message": f"version {cut.version_id} is not a version of shot {shot.code}",
        }
    label = f"shot {shot.code}: {version.stage} v{version.number:03d}"
    file = _movie(version)
    if file is None:
        return {"field": f"{where}.version_id", "message": f"{label} has no movie"}
    if require_approval and version.verdict != "approve":
        return {"field": f"{where}.version_id", "message": f"{label} is not approved"}
    if not _on_disk(root, file):
        return {"field": f"{where}.version_id", "message": f"{label}: its file is missing"}
    if cut.cut_out <= cut.cut_in:
        return {
            "field": f"{where}.cut_out",
            "message": f"shot {shot.code}: cut_out ({cut.cut_out}) must be after cut_in ({cut.cut_in})",
        }
    held = _frames_held(version, file, rate)
    if held is not None and cut.cut_out > held:
        return {
            "field": f"{where}.cut_out",
            "message": f"{label} holds {held} frames; the cut runs to frame {cut.cut_out}",
        }
    return shot, version, file
