"""A take's input files (source take, mask, control image, character references) as job inputs: each
checked to be of the shot (or its project), of the right stage, and an image."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aipipe_shared.workflows import WorkflowTemplate, role_targets

from ..db.models import Character, CharacterReference, Shot, Version, VersionFile
from ..errors import Unprocessable
from ..farm.render import version_input
from .schemas import TakeFields


@dataclass
class TakeInputs:
    """The job inputs of one take and what the parameters need to know of them."""

    items: list[dict[str, Any]] = field(default_factory=list)
    source_size: tuple[int, int] | None = None  # the source image's width and height, when probed
    version_ids: dict[str, Any] = field(default_factory=dict)  # request field -> the version(s) used


def _image(version: Version) -> VersionFile | None:
    return next((f for f in version.files if f.mime.startswith("image/")), None)


def shot_image(
    session: Session, shot: Shot, version_id: uuid.UUID, stage: str, request_field: str
) -> tuple[Version, VersionFile]:
    """A version of this shot at `stage` that holds an image (422 naming `request_field` otherwise)."""
    version = session.get(Version, version_id)
    if version is None or version.shot_id != shot.id:
        raise Unprocessable(f"no version {version_id} of shot {shot.code}", field=request_field)
    if version.stage != stage:
        raise Unprocessable(
            f"version {version_id} is a {version.stage} version, not {stage}", field=request_field
        )
    image = _image(version)
    if image is None:
        raise Unprocessable(f"version {version_id} holds no image", field=request_field)
    return version, image


def newest_control(session: Session, shot: Shot, kind: str) -> uuid.UUID:
    """The shot's newest `control` version of `kind` (its provenance's control_kind)."""
    for version in session.scalars(
        select(Version)
        .where(Version.shot_id == shot.id, Version.stage == "control")
        .order_by(Version.number.desc())
    ):
        if version.provenance.get("control_kind") == kind and _image(version) is not None:
            return version.id
    raise Unprocessable(
        f"shot {shot.code} has no {kind} control image yet (publish a `control` version with "
        f"provenance control_kind '{kind}')",
        field="control.version_id",
    )


def _named(shot: Shot, role: str, version: Version, image: VersionFile) -> str:
    ext = image.name.rsplit(".", 1)[-1] if "." in image.name else "png"
    return f"{shot.code}_{role}_{version.stage}_v{version.number:03d}.{ext}"


def take_inputs(
    session: Session, shot: Shot, template: WorkflowTemplate, body: TakeFields, control_id: uuid.UUID | None
) -> TakeInputs:
    """Every input the request names, in the template's roles (`control_id`: the control version chosen)."""
    found = TakeInputs()

    def add(role: str, version: Version, image: VersionFile, index: int = 0) -> None:
        targets = role_targets(template, role, index)
        found.items.append(version_input(role, _named(shot, role, version, image), version, image, targets))

    if body.source_version_id is not None:
        version, image = shot_image(session, shot, body.source_version_id, "previz", "source_version_id")
        add("image", version, image)
        width, height = image.media.get("width"), image.media.get("height")
        if isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0:
            found.source_size = (width, height)
        found.version_ids["source_version_id"] = str(version.id)
    if body.mask_version_id is not None:
        version, image = shot_image(session, shot, body.mask_version_id, "mask", "mask_version_id")
        add("mask", version, image)
        found.version_ids["mask_version_id"] = str(version.id)
    if body.control is not None and control_id is not None:
        version, image = shot_image(session, shot, control_id, "control", "control.version_id")
        kind = version.provenance.get("control_kind")
        if kind is not None and kind != body.control.kind:
            raise Unprocessable(
                f"version {control_id} is a {kind} control image, not {body.control.kind}",
                field="control.version_id",
            )
        add("control_image", version, image)
        found.version_ids["control_version_id"] = str(version.id)
    for index, reference_id in enumerate(body.reference_version_ids or []):
        where = f"reference_version_ids.{index}"
        reference = session.get(CharacterReference, reference_id)
        if reference is None or reference.project_id != shot.project_id:
            raise Unprocessable(f"no character reference {reference_id} in this project", field=where)
        character = session.get(Character, reference.character_id)
        assert character is not None
        found.items.append(
            {
                "role": "reference_image",
                "name": f"{shot.code}_reference_{index + 1}_{reference.name}",
                "url": reference_url(reference),
                "sha256": reference.sha256,
                "version_id": None,
                "reference_id": str(reference.id),
                "character": character.name,
                "targets": role_targets(template, "reference_image", index),
            }
        )
        found.version_ids.setdefault("reference_version_ids", []).append(str(reference.id))
    return found


def reference_url(reference: CharacterReference) -> str:
    return f"/api/characters/{reference.character_id}/references/{reference.id}/file"
