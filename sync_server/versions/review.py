"""Review: notes and verdicts on a version, what a verdict does to the shot, and the approved first frame.

The rules (docs/versions.md says the same in words):
- a version carries its latest verdict;
- approving the LATEST previz version moves the shot forward to `approved`; approving the latest `final`
  version moves it forward to `final` — each step an allowed transition, recorded on its own;
- rejecting (or asking for changes on) the latest version of a reviewable stage sends a shot that is in
  `review` back to `generating`;
- a verdict never moves a shot backwards past review, never touches an `omitted` shot, and a verdict on an
  older version (not the latest of its stage) moves nothing.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import resources
from ..auth.permissions import Permission
from ..context import UnitOfWork
from ..crud import ListParams, get_or_404, paginate
from ..db.models import ReviewNote, Shot, Version
from ..errors import Forbidden, NotFound, Unprocessable
from ..shots import status as workflow
from ..shots.service import SHOT
from .schemas import FileOut, FirstFrameOut, ReviewCreate, ReviewOut, ReviewResult, VersionOut
from .service import VERSION

SORTABLE = {"created_at": ReviewNote.created_at, "frame": ReviewNote.frame}


def add_review(
    uow: UnitOfWork, version_id: uuid.UUID, body: ReviewCreate, *, pin: bool = False
) -> ReviewResult:
    """Record a note and/or a verdict. `pin` (use-as-first-frame): an approval also makes the version the
    shot's first frame."""
    actor = uow.actor
    if body.verdict is not None and not actor.can(Permission.SHOT_APPROVE):
        raise Forbidden(
            f"Role '{actor.role}' may not give a verdict (needs shot:approve); send a note without one.",
            field="verdict",
        )
    if body.verdict is None:
        if not actor.can(Permission.SHOT_EDIT):
            raise Forbidden(
                f"Role '{actor.role}' may not write review notes (needs shot:edit).", field="text"
            )
        if not body.text.strip():
            raise Unprocessable("A review needs a verdict, a text, or both.", field="text")
    session = uow.session
    version = get_or_404(session, Version, version_id, "version")
    # Shot first, then version: the same order as publishing, so two writers never wait on each other.
    shot = session.get(Shot, version.shot_id, with_for_update=True, populate_existing=True)
    assert shot is not None
    session.refresh(version, with_for_update=True)
    note = ReviewNote(
        version_id=version.id,
        author_id=None if actor.kind == "system" else actor.id,
        author_name=actor.name,
        verdict=body.verdict,
        frame=body.frame,
        text=body.text,
    )
    session.add(note)
    session.flush()
    out = ReviewOut.model_validate(note)
    uow.record(
        "review.created",
        "review",
        note.id,
        project_id=version.project_id,
        data={**out.model_dump(mode="json"), "shot_id": str(shot.id)},
    )
    moved: list[str] = []
    if body.verdict is not None:
        resources.update(uow, VERSION, version, {"verdict": body.verdict}, version.revision, commit=False)
        latest = session.scalar(
            select(func.max(Version.number)).where(Version.shot_id == shot.id, Version.stage == version.stage)
        )
        # The take chosen as first frame counts as the newest: choosing it approves the shot's image.
        is_latest = version.number == latest or (pin and body.verdict == "approve")
        if pin and body.verdict == "approve" and shot.first_frame_version_id != version.id:
            resources.update(
                uow, SHOT, shot, {"first_frame_version_id": version.id}, shot.revision, commit=False
            )
        elif body.verdict != "approve" and shot.first_frame_version_id == version.id:
            # A rejected first frame is no longer one: the newest approved take is, until another is chosen.
            resources.update(uow, SHOT, shot, {"first_frame_version_id": None}, shot.revision, commit=False)
        for status in workflow.moves_on_verdict(body.verdict, version.stage, is_latest, shot.status):
            resources.update(uow, SHOT, shot, {"status": status}, shot.revision, commit=False)
            moved.append(status)
    uow.commit()
    return ReviewResult(
        **out.model_dump(), version_verdict=version.verdict, shot_status=shot.status, shot_moved=moved
    )


def list_reviews(session: Session, version_id: uuid.UUID, params: ListParams) -> dict[str, Any]:
    get_or_404(session, Version, version_id, "version")
    stmt = select(ReviewNote).where(ReviewNote.version_id == version_id)
    return paginate(session, stmt, params, SORTABLE, ["created_at"], ReviewOut.model_validate)


def first_frame(session: Session, shot_id: uuid.UUID) -> FirstFrameOut:
    """The shot's first frame: the take pinned with use-as-first-frame, else the newest approved previz
    version of the shot that holds an image; and that image."""
    shot = get_or_404(session, Shot, shot_id, "shot")
    if shot.first_frame_version_id is not None:
        pinned = session.get(Version, shot.first_frame_version_id)
        image = _image_of(pinned) if pinned is not None else None
        if pinned is not None and image is not None:
            return FirstFrameOut(
                shot_id=shot.id, version=VersionOut.of(pinned), file=FileOut.of(image), pinned=True
            )
    approved = session.scalars(
        select(Version)
        .where(Version.shot_id == shot.id, Version.stage == "previz", Version.verdict == "approve")
        .order_by(Version.number.desc())
    )
    for version in approved:
        image = _image_of(version)
        if image is not None:
            return FirstFrameOut(shot_id=shot.id, version=VersionOut.of(version), file=FileOut.of(image))
    raise NotFound(f"Shot {shot.code} has no approved previz version with an image yet.", field="shot_id")


def _image_of(version: Version) -> Any:
    return next((f for f in version.files if f.mime.startswith("image/")), None)
