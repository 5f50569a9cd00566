"""The edit as the server knows it: the project's shots in order, each with the media it shows.

Media by priority, decided by the add-on's `blender_addon.editorial.core.pick_media` so that Build edit in
Blender and the server agree: the newest final, the newest render, the newest approved playblast, the newest
approved first frame (previz image); a shot with none of these is a slate (colour strip / colour segment with
its code). Omitted shots are not in the edit.
"""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aipipe_shared import editorial as core
from aipipe_shared.naming import PathOutsideRootError, resolve_inside

from ..crud import get_or_404
from ..db.models import Project, ReviewNote, Scene, Shot, Version, VersionFile
from .timeline import EditMedia, EditShot


@dataclass(frozen=True)
class Edit:
    project: Project
    shots: list[EditShot]

    @property
    def frames(self) -> int:
        return sum(s.duration for s in self.shots)


def load_edit(session: Session, project_id: uuid.UUID, storage_root: Path) -> Edit:
    """The project's edit in shot order (omitted shots left out)."""
    project = get_or_404(session, Project, project_id, "project")
    shots = list(
        session.scalars(
            select(Shot)
            .where(Shot.project_id == project.id, Shot.status != "omitted")
            .order_by(Shot.sort_order, Shot.code)
        )
    )
    scenes = {s.id: s.code for s in session.scalars(select(Scene).where(Scene.project_id == project.id))}
    versions: dict[uuid.UUID, list[Version]] = defaultdict(list)
    if shots:
        for version in session.scalars(
            select(Version)
            .where(Version.project_id == project.id, Version.stage.in_(core.MEDIA_STAGES))
            .order_by(Version.number.desc())
        ):
            versions[version.shot_id].append(version)
    rate = Fraction(project.fps_num, project.fps_den)
    out = []
    for shot in shots:
        handle_in = shot.handle_in if shot.handle_in is not None else project.handle_in
        out.append(
            EditShot(
                shot_id=shot.id,
                code=shot.code,
                duration=shot.duration_frames,
                handle_in=handle_in or 0,
                revision=shot.revision,
                media=pick_media(versions.get(shot.id, []), storage_root, rate),
                scene_code=scenes.get(shot.scene_id, ""),
            )
        )
    return Edit(project, out)


def version_record(version: Version) -> dict[str, Any]:
    """The fields of a version the media rule reads, as the API shows them."""
    return {
        "id": str(version.id),
        "stage": version.stage,
        "number": version.number,
        "verdict": version.verdict,
        "first_frame": version.first_frame,
        "frame_count": version.frame_count,
        "handle_in": version.handle_in,
        "handle_out": version.handle_out,
        "provenance": {"parent_version_id": (version.provenance or {}).get("parent_version_id")},
        "files": [
            {
                "id": str(f.id),
                "name": f.name,
                "mime": f.mime,
                "path": f.path,
                "sha256": f.sha256,
                "media": f.media,
            }
            for f in version.files
        ],
    }


def pick_media(versions: list[Version], storage_root: Path, rate: Fraction | None = None) -> EditMedia | None:
    """The media a shot shows (the add-on's rule), its length counted at `rate`; None: a slate."""
    choice = core.pick_media([version_record(v) for v in versions])
    if choice is None:
        return None
    version = next(v for v in versions if str(v.id) == choice.version_id)
    file = next(f for f in version.files if str(f.id) == str(choice.file["id"]))
    return _media(version, file, choice.kind, storage_root, rate)


def _media(
    version: Version, file: VersionFile, kind: str, storage_root: Path, rate: Fraction | None = None
) -> EditMedia:
    try:
        path: Path | None = Path(resolve_inside(storage_root, file.path))
    except PathOutsideRootError:
        path = None
    if path is not None and not path.is_file():
        path = None
    facts = file.media if isinstance(file.media, dict) else {}
    frames = version.frame_count if version.frame_count is not None else facts.get("frames")
    if not isinstance(frames, int | float) or kind != "video":
        frames = None
    movie = kind == "video"
    return EditMedia(
        version_id=version.id,
        stage=version.stage,
        number=version.number,
        name=file.name,
        path=path,
        relative=file.path,
        still=kind == "image",
        frames=int(frames) if frames is not None else None,
        sha256=file.sha256,
        file_id=file.id,
        handle_in=version.handle_in if movie else 0,
        handle_out=version.handle_out if movie else 0,
        first_frame=version.first_frame,  # a still's too: the review room numbers it so
        rate_frames=_at_rate(int(frames), facts.get("fps"), rate) if frames is not None else None,
    )


def _at_rate(frames: int, media_fps: Any, rate: Fraction | None) -> int:
    """A movie's frame count at the project's rate: a 16 fps render of 81 frames covers 121 frames at 24.
    Same rate (or either unknown): unchanged."""
    try:
        own = Fraction(str(media_fps)) if media_fps else None
    except (ValueError, ZeroDivisionError):
        own = None
    if own is None or rate is None or own == rate or own <= 0:
        return frames
    return math.floor(frames * rate / own)


def version_media(
    session: Session,
    version_id: uuid.UUID,
    shot_id: uuid.UUID,
    storage_root: Path,
    rate: Fraction | None = None,
) -> EditMedia | None:
    """A chosen take of the shot (any stage) as media: its first movie, else its first picture."""
    version = session.get(Version, version_id)
    if version is None or version.shot_id != shot_id:
        return None
    for kind in ("video", "image"):
        file = _file_of_kind(version.files, kind)
        if file is not None:
            return _media(version, file, kind, storage_root, rate)
    return None


def _file_of_kind(files: list[VersionFile], kind: str) -> VersionFile | None:
    return next((f for f in files if f.mime.startswith(f"{kind}/")), None)


def review_notes(session: Session, version_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[ReviewNote]]:
    """Notes anchored to a frame, per version, oldest first (they become VSE markers)."""
    notes: dict[uuid.UUID, list[ReviewNote]] = defaultdict(list)
    if version_ids:
        for note in session.scalars(
            select(ReviewNote)
            .where(ReviewNote.version_id.in_(version_ids), ReviewNote.frame.is_not(None))
            .order_by(ReviewNote.created_at)
        ):
            notes[note.version_id].append(note)
    return notes


def reference_audio(
    session: Session, project_id: uuid.UUID, storage_root: Path
) -> dict[uuid.UUID, EditMedia]:
    """The newest `reference` version with a sound file, per shot (its own channel in the VSE)."""
    found: dict[uuid.UUID, EditMedia] = {}
    for version in session.scalars(
        select(Version)
        .where(Version.project_id == project_id, Version.stage == "reference")
        .order_by(Version.number.desc())
    ):
        if version.shot_id in found:
            continue
        file = _file_of_kind(version.files, "audio")
        if file is not None:
            found[version.shot_id] = _media(version, file, "audio", storage_root)
    return found
