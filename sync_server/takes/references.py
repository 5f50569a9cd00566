"""Character reference images: uploaded to a character (stored under its `reference` folder of the
project's storage), listed, deleted; a take names them as `reference_image` inputs."""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aipipe_shared.naming import safe_component

from ..context import UnitOfWork
from ..crud import get_or_404
from ..db.engine import Database
from ..db.models import Character, CharacterReference, Project
from ..errors import Conflict, NotFound, Unprocessable
from ..storage.atomic import fsync_dir
from ..storage.layout import ProjectLayout
from ..versions import media
from ..versions.upload import ReceivedFile, UploadRules, file_error
from .inputs import reference_url
from .schemas import ReferenceOut

EXTENSIONS = frozenset({"png", "jpg", "jpeg", "webp"})  # what ComfyUI's LoadImage reads
MAX_REFERENCE_BYTES = 50 * 1024 * 1024
MAX_REFERENCES = 100  # per character


def rules(max_upload_bytes: int) -> UploadRules:
    def no_fields(name: str, value: str) -> None:  # the form has only `files`
        raise Unprocessable(f"Unknown field '{name}'; send one image in 'files'.", field=name)

    return UploadRules(
        extensions=EXTENSIONS,
        max_file_bytes=min(MAX_REFERENCE_BYTES, max_upload_bytes),
        text_fields=frozenset(),
        validate_field=no_fields,
    )


def reference_out(reference: CharacterReference) -> ReferenceOut:
    return ReferenceOut(
        id=reference.id,
        character_id=reference.character_id,
        name=reference.name,
        url=reference_url(reference),
        sha256=reference.sha256,
        size=reference.size,
        mime=reference.mime,
        width=reference.width,
        height=reference.height,
        created_by=reference.created_by,
        created_at=reference.created_at,
    )


def check_character(session: Session, character_id: uuid.UUID) -> Character:
    character = get_or_404(session, Character, character_id, "character")
    mine = select(func.count()).where(CharacterReference.character_id == character.id)
    if (session.scalar(mine) or 0) >= MAX_REFERENCES:
        raise Conflict(
            f"Character {character.name} has {MAX_REFERENCES} reference images already; delete one first.",
            field="character_id",
        )
    return character


def check_can_add(db: Database, character_id: uuid.UUID) -> None:
    """Refuse before any byte is received: the character exists and has room for another reference."""
    with db.read_sessions() as session:
        check_character(session, character_id)


def the_image(files: list[ReceivedFile]) -> ReceivedFile:
    """The one image of the form, decodable, with its size."""
    if not files:
        raise Unprocessable("Send one image in 'files'.", field="files")
    if len(files) > 1:
        extra = files[1]
        raise file_error(Unprocessable, extra, extra.index, extra.client_name, "send one image per request")
    image = files[0]
    facts = media.probe(image.path, image.ext)
    if facts.get("kind") != "image" or not isinstance(facts.get("width"), int):
        raise file_error(Unprocessable, image, image.index, image.client_name, "the image cannot be read")
    image.media = facts
    return image


def store(uow: UnitOfWork, storage_root: Path, character_id: uuid.UUID, image: ReceivedFile) -> ReferenceOut:
    """Move the received image under the character's reference folder and insert its row."""
    session = uow.session
    character = check_character(session, character_id)
    project = get_or_404(session, Project, character.project_id, "project")
    layout = ProjectLayout.of(project, storage_root)
    taken = {
        n.casefold()
        for n in session.scalars(
            select(CharacterReference.name).where(CharacterReference.character_id == character.id)
        )
    }
    name, stem, number = image.name, image.name.rsplit(".", 1)[0], 1
    while name.casefold() in taken:  # the same name again: name_2.png, name_3.png ...
        number += 1
        name = f"{stem}_{number}.{image.ext}"
    reference_id = uuid.uuid4()
    folder = layout.build("character_reference_dir", character=safe_component(character.name))
    relative = f"{folder}/{reference_id.hex[:8]}_{name}"
    target = layout.absolute(relative)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.rename(image.path, target)
    fsync_dir(target.parent)
    try:
        reference = CharacterReference(
            id=reference_id,
            project_id=project.id,
            character_id=character.id,
            name=name,
            path=relative,
            size=image.size,
            sha256=image.sha256,
            mime=image.mime,
            width=image.media.get("width"),
            height=image.media.get("height"),
            created_by=uow.actor.name,
        )
        session.add(reference)
        session.flush()
        out = reference_out(reference)
        uow.record(
            "character_reference.created",
            "character_reference",
            reference.id,
            project_id=project.id,
            data=out.model_dump(mode="json"),
        )
        uow.commit()
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            target.unlink()
        raise
    return out


def list_references(session: Session, character_id: uuid.UUID) -> list[ReferenceOut]:
    character = get_or_404(session, Character, character_id, "character")
    rows = session.scalars(
        select(CharacterReference)
        .where(CharacterReference.character_id == character.id)
        .order_by(CharacterReference.created_at, CharacterReference.name)
    )
    return [reference_out(r) for r in rows]


def get_reference(session: Session, character_id: uuid.UUID, reference_id: uuid.UUID) -> CharacterReference:
    reference = session.get(CharacterReference, reference_id)
    if reference is None or reference.character_id != character_id:
        get_or_404(session, Character, character_id, "character")
        raise NotFound(f"No reference image with id {reference_id}.", field="reference_id")
    return reference


def file_path(
    session: Session, storage_root: Path, character_id: uuid.UUID, reference_id: uuid.UUID
) -> tuple[Path, CharacterReference]:
    reference = get_reference(session, character_id, reference_id)
    project = get_or_404(session, Project, reference.project_id, "project")
    path = ProjectLayout.of(project, storage_root).absolute(reference.path)
    if not path.is_file():
        raise Conflict(
            f"The file of reference image {reference.name} is missing from storage.", field="reference_id"
        )
    return path, reference


def delete(uow: UnitOfWork, storage_root: Path, character_id: uuid.UUID, reference_id: uuid.UUID) -> None:
    session = uow.session
    reference = get_reference(session, character_id, reference_id)
    project = get_or_404(session, Project, reference.project_id, "project")
    path = ProjectLayout.of(project, storage_root).absolute(reference.path)
    out = reference_out(reference)
    session.delete(reference)
    session.flush()
    uow.record(
        "character_reference.deleted",
        "character_reference",
        reference_id,
        project_id=project.id,
        data=out.model_dump(mode="json"),
    )
    uow.commit()
    with contextlib.suppress(FileNotFoundError):
        path.unlink()  # after the commit: a failed delete keeps its file
