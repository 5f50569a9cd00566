"""Registering a probed scan as the next `plate` (or `reference`) version of its shot.

The version's folder in the production tree holds the thumbnail, and the files themselves only when asked
to copy; otherwise the version's files point at the originals, which stay where they are.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from sqlalchemy import func, select

from ..context import UnitOfWork
from ..db.models import Project, Scene, Shot, Version, VersionFile
from ..errors import Conflict, Unprocessable
from ..storage.atomic import fsync_dir
from ..storage.layout import ProjectLayout
from ..versions import media
from ..versions.schemas import VersionOut
from .probe import Probed


def register(
    uow: UnitOfWork,
    storage_root: Path,
    shot_id: uuid.UUID,
    stage: str,
    probed: Probed,
    copy: bool,
    handles: tuple[int, int] = (0, 0),
) -> VersionOut:
    """Take the next number for (shot, stage), place the folder, insert the rows, commit. `handles`:
    the head and tail handle frames the scan holds, as the caller states them."""
    session = uow.session
    shot = session.get(Shot, shot_id, with_for_update=True, populate_existing=True)
    if shot is None:
        raise Conflict(f"The shot {shot_id} is gone.", field="shot_id")
    project = session.get(Project, shot.project_id)
    scene = session.get(Scene, shot.scene_id)
    assert project is not None and scene is not None
    layout = ProjectLayout.of(project, storage_root)
    last = session.scalar(
        select(func.max(Version.number)).where(Version.shot_id == shot.id, Version.stage == stage)
    )
    number = (last or 0) + 1
    relative = layout.version_dir(scene.code, shot.code, stage, number)
    folder = layout.absolute(relative)
    if folder.exists():
        raise Conflict(f"{relative} exists already on disk; it is left alone.", field="stage")
    folder.mkdir(parents=True)
    try:
        version = _rows(uow, shot, stage, number, relative, folder, probed, copy, handles)
        uow.commit()
    except BaseException:
        session.rollback()
        shutil.rmtree(folder, ignore_errors=True)  # only the folder this call made
        raise
    return VersionOut.of(version)


def _rows(
    uow: UnitOfWork,
    shot: Shot,
    stage: str,
    number: int,
    relative: str,
    folder: Path,
    probed: Probed,
    copy: bool,
    handles: tuple[int, int],
) -> Version:
    thumbnail = None
    if probed.thumbnail is not None and probed.thumbnail.exists():
        shutil.copyfile(probed.thumbnail, folder / media.THUMBNAIL_NAME)
        thumbnail = f"{relative}/{media.THUMBNAIL_NAME}"
    files = []
    for position, facts in enumerate(probed.files):
        if copy:
            target = folder / facts.path.name
            shutil.copy2(facts.path, target)
            path = f"{relative}/{facts.path.name}"
        else:
            path = str(facts.path.resolve())
        files.append(
            VersionFile(
                name=facts.path.name,
                path=path,
                size=facts.size,
                sha256=facts.sha256,
                mime=facts.mime,
                media=probed.media if position == 0 else {},
                position=position,
            )
        )
    fsync_dir(folder)
    found = probed.found
    version = Version(
        id=uuid.uuid4(),
        project_id=shot.project_id,
        shot_id=shot.id,
        stage=stage,
        number=number,
        comment=f"Ingested {found.name}",
        path=relative,
        provenance={
            "ingest": {
                "source": str((found.folder / found.name).resolve()),
                "in_place": not copy,
                "frames": found.frame_range,
                "missing_frames": found.missing,
                "corrupt": probed.corrupt,
            }
        },
        created_by=uow.actor.name,
        thumbnail=thumbnail,
    )
    version.files = files
    _set_extent(version, probed, handles)
    uow.session.add(version)
    uow.session.flush()
    uow.record(
        "version.created",
        "version",
        version.id,
        project_id=version.project_id,
        revision_after=version.revision,
        data=VersionOut.of(version).model_dump(mode="json"),
    )
    return version


def _set_extent(version: Version, probed: Probed, handles: tuple[int, int]) -> None:
    """What the scan holds: a sequence from its first to its last frame number (holes included), a movie
    its probed frame count; handles as stated, refused when they leave nothing for the cut."""
    facts = probed.media
    if facts.get("kind") == "sequence":
        first, last = facts.get("first_frame"), facts.get("last_frame")
        frames = last - first + 1 if isinstance(first, int) and isinstance(last, int) else facts.get("frames")
        version.first_frame = first if isinstance(first, int) else None
    else:
        frames = facts.get("frames")
    version.frame_count = int(frames) if isinstance(frames, int) and frames > 0 else None
    head, tail = handles
    if version.frame_count is not None and head + tail >= version.frame_count:
        raise Unprocessable(
            f"handles of {head} + {tail} frames leave nothing of {probed.found.name} "
            f"({version.frame_count} frames) for the cut.",
            field="handle_in",
        )
    version.handle_in, version.handle_out = head, tail
