"""Publishing versions: the form's rules, media facts, the numbering transaction, and reading them back."""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from aipipe_shared.naming import NamingError, PathOutsideRootError, resolve_inside, safe_component
from aipipe_shared.vocabulary import VERSION_STAGES

from .. import resources
from ..context import UnitOfWork
from ..crud import ListParams, get_or_404, paginate
from ..db.engine import Database
from ..db.models import Project, Scene, Shot, Version, VersionFile
from ..errors import Conflict, NotFound, Unprocessable
from ..shots import status as workflow
from ..shots.service import SHOT
from ..storage.layout import CodeError, ProjectLayout
from . import extent as media_extent
from . import media
from .schemas import ExtentUpdate, Provenance, VersionOut
from .staging import FolderTaken, StagedUpload, StagingArea
from .upload import ReceivedFile

logger = logging.getLogger(__name__)

VERSION = resources.Resource(Version, "version", VersionOut.of)
STAGES = VERSION_STAGES
TEXT_FIELDS = frozenset({"stage", "comment", "provenance", "rename", *media_extent.FIELDS})
MAX_COMMENT_CHARS = 20000
SORTABLE = {"created_at": Version.created_at, "number": Version.number, "stage": Version.stage}
TRUE, FALSE = frozenset({"true", "1", "yes", "on"}), frozenset({"false", "0", "no", "off", ""})


# -- the form -----------------------------------------------------------------------------------------


@dataclass
class PublishForm:
    stage: str
    comment: str = ""
    provenance: dict[str, Any] = field(default_factory=dict)
    rename: bool = False
    extent: media_extent.MediaExtent = field(default_factory=media_extent.MediaExtent)


def validate_field(name: str, value: str) -> None:
    """Check one text field as soon as it has arrived (raises an error naming it)."""
    if name == "stage" and value not in STAGES:
        raise Unprocessable(f"stage must be one of {', '.join(STAGES)}, not '{value}'.", field="stage")
    if name == "comment" and len(value) > MAX_COMMENT_CHARS:
        raise Unprocessable(f"comment is longer than {MAX_COMMENT_CHARS} characters.", field="comment")
    if name == "rename" and value.strip().lower() not in TRUE | FALSE:
        raise Unprocessable(f"rename must be true or false, not '{value}'.", field="rename")
    if name == "provenance":
        parse_provenance(value)
    if name in media_extent.FIELDS:
        media_extent.parse_field(name, value)


def parse_provenance(value: str) -> dict[str, Any]:
    if not value.strip():
        return {}
    try:
        data = json.loads(value)
    except ValueError as exc:
        raise Unprocessable(f"provenance is not valid JSON: {exc}", field="provenance") from exc
    except RecursionError as exc:
        raise Unprocessable("provenance is nested too deeply.", field="provenance") from exc
    if not isinstance(data, dict):
        raise Unprocessable("provenance must be a JSON object.", field="provenance")
    try:
        return Provenance.model_validate(data).model_dump(mode="json", exclude_none=True)
    except ValidationError as exc:
        errors = [
            {"field": ".".join(["provenance", *map(str, e["loc"])]), "message": e["msg"]}
            for e in exc.errors()
        ]
        raise Unprocessable(f"provenance is invalid: {errors[0]['field']}", errors=errors) from exc


def publish_form(fields: dict[str, str], files: list[ReceivedFile]) -> PublishForm:
    if "stage" not in fields:
        raise Unprocessable(f"stage is required ({', '.join(STAGES)}).", field="stage")
    if not files:
        raise Unprocessable("A version needs at least one file in 'files'.", field="files")
    return PublishForm(
        stage=fields["stage"],
        comment=fields.get("comment", ""),
        provenance=parse_provenance(fields.get("provenance", "")),
        rename=fields.get("rename", "").strip().lower() in TRUE,
        extent=media_extent.from_fields(fields),
    )


# -- before and after receiving -----------------------------------------------------------------------


def check_shot_can_publish(db: Database, shot_id: uuid.UUID, storage_root: Path) -> None:
    """Refuse before any byte is received: the shot must exist and its codes must give it a folder."""
    with db.read_sessions() as session:
        shot = get_or_404(session, Shot, shot_id, "shot")
        _layout_and_scene(session, shot, storage_root)


def _layout_and_scene(session: Session, shot: Shot, storage_root: Path) -> tuple[ProjectLayout, Scene]:
    project = session.get(Project, shot.project_id)
    scene = session.get(Scene, shot.scene_id)
    assert project is not None and scene is not None
    try:
        layout = ProjectLayout.of(project, storage_root)
        layout.shot_fields(scene.code, shot.code)
    except (CodeError, NamingError) as exc:
        raise Conflict(
            f"Shot {shot.code} has no place in the project's folders: {exc}", field="shot_id"
        ) from exc
    return layout, scene


def describe_media(files: list[ReceivedFile], folder: Path, thumbnail_size: int) -> str | None:
    """Probe every file; make the version's thumbnail from the first picture. Returns its file name."""
    made: str | None = None
    for received in files:
        received.media = media.probe(received.path, received.ext)
        if made is None and media.thumbnail(
            received.path, received.ext, folder / media.THUMBNAIL_NAME, thumbnail_size
        ):
            made = media.THUMBNAIL_NAME
    return made


def version_exists(db: Database) -> Callable[[uuid.UUID], bool]:
    def exists(version_id: uuid.UUID) -> bool:
        with db.read_sessions() as session:
            return session.get(Version, version_id) is not None

    return exists


# -- the numbering transaction ------------------------------------------------------------------------


@dataclass
class Publication:
    """Everything received and checked, ready to become a version."""

    shot_id: uuid.UUID
    form: PublishForm
    files: list[ReceivedFile]
    thumbnail: str | None
    upload: StagedUpload


def publish(
    uow: UnitOfWork, staging: StagingArea, db: Database, storage_root: Path, pub: Publication
) -> VersionOut:
    """Take the next number for (shot, stage), move the staged folder to `vNNN/`, insert the rows, commit.

    PostgreSQL: the shot row is locked (SELECT ... FOR UPDATE) so publishers of one shot take turns.
    SQLite: the write transaction began with BEGIN IMMEDIATE, so writers take turns anyway. The unique
    constraint (shot, stage, number) is the last guard. The folder is renamed only while the turn is held,
    and removed again if the rows are not committed.
    """
    session = uow.session
    held = media_extent.resolve(pub.form.extent, pub.files)  # refused before anything is placed
    already = _published_by_job(session, pub)
    if already is not None:
        staging.discard(pub.upload)  # a render agent retrying after a lost answer: same version, not a second
        return VersionOut.of(already)
    try:
        version = _place_and_insert(uow, staging, storage_root, pub, held)
    except BaseException as exc:
        staging.unplace(pub.upload)  # still inside the turn: nobody else can be placing this number
        session.rollback()
        if isinstance(exc, IntegrityError):  # the unique constraint caught what the lock should have
            raise Conflict(
                f"Another {pub.form.stage} version of this shot took the same number; publish again.",
                field="stage",
            ) from exc
        raise
    try:
        uow.commit()
    except BaseException:
        # The commit may have reached the database before failing (a lost connection): ask it.
        if pub.upload.version_id is not None and version_exists(db)(pub.upload.version_id):
            logger.warning("commit reported an error but the version exists", exc_info=True)
        else:
            staging.unplace(pub.upload)
            raise
    staging.finish(pub.upload)
    return VersionOut.of(version)


def _published_by_job(session: Session, pub: Publication) -> Version | None:
    job_id = pub.form.provenance.get("job_id")
    if not job_id:
        return None
    # Taking the shot's turn first, so two retries of one job cannot both miss each other's version.
    session.get(Shot, pub.shot_id, with_for_update=True, populate_existing=True)
    versions = session.scalars(
        select(Version).where(Version.shot_id == pub.shot_id, Version.stage == pub.form.stage)
    )
    return next((v for v in versions if str(v.provenance.get("job_id")) == str(job_id)), None)


def _place_and_insert(
    uow: UnitOfWork, staging: StagingArea, storage_root: Path, pub: Publication, held: media_extent.Resolved
) -> Version:
    session, form = uow.session, pub.form
    shot = session.get(Shot, pub.shot_id, with_for_update=True, populate_existing=True)
    if shot is None:
        raise NotFound(f"No shot with id {pub.shot_id}.", field="shot_id")
    layout, scene = _layout_and_scene(session, shot, storage_root)
    last = session.scalar(
        select(func.max(Version.number)).where(Version.shot_id == shot.id, Version.stage == form.stage)
    )
    number = (last or 0) + 1
    relative = layout.version_dir(scene.code, shot.code, form.stage, number)
    if form.rename:
        _rename_files(layout, shot.code, form.stage, number, pub)
    version = Version(
        id=uuid.uuid4(),
        project_id=shot.project_id,
        shot_id=shot.id,
        stage=form.stage,
        number=number,
        comment=form.comment,
        path=relative,
        provenance=form.provenance,
        gpu_seconds=form.provenance.get("gpu_seconds"),
        created_by=uow.actor.name,
        thumbnail=f"{relative}/{pub.thumbnail}" if pub.thumbnail else None,
        first_frame=held.first_frame,
        frame_count=held.frame_count,
        handle_in=held.handle_in,
        handle_out=held.handle_out,
    )
    version.files = [
        VersionFile(
            name=f.name,
            path=f"{relative}/{f.name}",
            size=f.size,
            sha256=f.sha256,
            mime=f.mime,
            media=f.media,
            position=f.index,
        )
        for f in pub.files
    ]
    try:
        staging.place(pub.upload, layout.absolute(relative), version.id)
    except FolderTaken as exc:
        raise Conflict(f"Cannot publish {form.stage} v{number:03d}: {exc}.", field="stage") from exc
    session.add(version)
    session.flush()
    uow.record(
        "version.created",
        "version",
        version.id,
        project_id=version.project_id,
        revision_after=version.revision,
        data=VersionOut.of(version).model_dump(mode="json"),
    )
    for status in workflow.moves_on_publish(form.stage, shot.status):
        resources.update(uow, SHOT, shot, {"status": status}, shot.revision, commit=False)
    return version


def _rename_files(layout: ProjectLayout, shot_code: str, stage: str, number: int, pub: Publication) -> None:
    """Name the files with the project's `version_file_name` template; a second file with the same
    extension gets its own (safe) name as the template's comment."""
    shot_number = layout.shot_number(shot_code)
    taken: set[str] = set()
    for received in pub.files:
        comment = None
        while True:
            name = layout.build(
                "version_file_name",
                shot=shot_number,
                stage=stage,
                version=number,
                comment=comment,
                ext=received.ext,
            )
            if name.casefold() not in taken:
                break
            stem = safe_component(Path(received.name).stem).replace(" ", "_")
            comment = stem if comment is None else f"{stem}_{len(taken)}"
        taken.add(name.casefold())
        if name != received.name:
            target = pub.upload.folder / name
            os.rename(received.path, target)
            received.name, received.path = name, target


# -- reading ------------------------------------------------------------------------------------------


def list_versions(
    session: Session, shot_id: uuid.UUID, stage: str | None, params: ListParams
) -> dict[str, Any]:
    get_or_404(session, Shot, shot_id, "shot")
    stmt = select(Version).where(Version.shot_id == shot_id)
    if stage is not None:
        stmt = stmt.where(Version.stage == stage)
    return paginate(session, stmt, params, SORTABLE, ["-created_at", "-number"], VersionOut.of)


def get_version(session: Session, version_id: uuid.UUID) -> Version:
    return get_or_404(session, Version, version_id, "version")


def update_extent(uow: UnitOfWork, version_id: uuid.UUID, body: ExtentUpdate, revision: int) -> VersionOut:
    """Set what the version's movie holds; checked as at publishing (the movie's own frame count, handles
    that leave frames for the cut). Fields not sent keep their values."""
    version = get_version(uow.session, version_id)
    sent = {name: getattr(body, name) for name in body.model_fields_set if name in media_extent.FIELDS}
    stated = media_extent.MediaExtent(
        **{name: sent[name] if name in sent else getattr(version, name) for name in media_extent.FIELDS}
    )
    held = media_extent.resolve(stated, version.files)
    values = {name: getattr(held, name) for name in media_extent.FIELDS}
    out = resources.update(uow, VERSION, version, values, revision)
    assert isinstance(out, VersionOut)
    return out


def file_path(
    session: Session, storage_root: Path, version_id: uuid.UUID, file_id: uuid.UUID
) -> tuple[Path, Any]:
    """The file on disk (inside the storage root) and its row; 404 naming what is missing."""
    version = get_version(session, version_id)
    row = next((f for f in version.files if f.id == file_id), None)
    if row is None:
        raise NotFound(f"Version {version.id} has no file {file_id}.", field="file_id")
    return _inside(storage_root, row.path, "file_id"), row


def thumbnail_path(session: Session, storage_root: Path, version_id: uuid.UUID) -> Path:
    version = get_version(session, version_id)
    if not version.thumbnail:
        raise NotFound(
            f"Version {version.id} has no thumbnail (no picture among its files).", field="thumbnail"
        )
    return _inside(storage_root, version.thumbnail, "thumbnail")


def _inside(storage_root: Path, relative: str, field_name: str) -> Path:
    try:
        path = Path(resolve_inside(storage_root, relative))
    except PathOutsideRootError as exc:
        raise NotFound(f"{relative} is not inside the storage root.", field=field_name) from exc
    if not path.is_file():
        raise NotFound(f"{relative} is missing from the storage root.", field=field_name)
    return path
