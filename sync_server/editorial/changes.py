"""Pushing an edit from the VSE: order, trims, deletions (→ omitted) and splits (→ new shots), all or nothing.

Every change goes through the shot rules (revisions, locks, permissions, the status workflow), in one
transaction. With `apply: false` the same work is done and rolled back, so the preview shows exactly what
applying would do, new shot codes and conflicts included.
"""

from __future__ import annotations

import dataclasses
import uuid

from sqlalchemy import select

from ..context import UnitOfWork
from ..crud import check_revision, get_or_404
from ..db.models import Project, Shot
from ..errors import Unprocessable
from ..shots import service as shots
from ..shots.schemas import ReorderBody, ReorderItem, ShotCreate, ShotOut, ShotUpdate, SubjectIn
from .schemas import ChangesBody, ChangesResult


class OneTransaction(UnitOfWork):
    """The shot services commit after each edit; inside this they flush, and `finish` commits once."""

    def commit(self) -> None:
        self.session.flush()

    def finish(self) -> None:
        UnitOfWork.commit(self)

    def abandon(self) -> None:
        self.session.rollback()
        self.recorded.clear()

    @classmethod
    def around(cls, uow: UnitOfWork) -> OneTransaction:
        return cls(**{f.name: getattr(uow, f.name) for f in dataclasses.fields(uow)})


def apply_changes(uow: UnitOfWork, project_id: uuid.UUID, body: ChangesBody) -> ChangesResult:
    batch = OneTransaction.around(uow)
    session = batch.session
    project = get_or_404(session, Project, project_id, "project")
    known = {s.id: s for s in session.scalars(select(Shot).where(Shot.project_id == project.id))}
    _check(body, known)
    durations: dict[str, list[int]] = {}
    for entry in body.shots:
        if entry.shot_id is None:
            continue
        shot = known[entry.shot_id]
        assert entry.revision is not None
        check_revision(shot, entry.revision, "shot", lambda s=shot: ShotOut.of(s))
        if shot.duration_frames != entry.duration_frames:
            durations[str(shot.id)] = [shot.duration_frames, entry.duration_frames]
            shots.update_shot(
                batch, shot.id, ShotUpdate(duration_frames=entry.duration_frames), shot.revision
            )
    omitted = []
    for item in body.omit:
        shot = known[item.shot_id]
        check_revision(shot, item.revision, "shot", lambda s=shot: ShotOut.of(s))
        if shot.status != "omitted":
            shots.update_shot(batch, shot.id, ShotUpdate(status="omitted"), shot.revision)
        omitted.append(shot.id)
    ordered: list[Shot] = []
    created: list[ShotOut] = []
    for entry in body.shots:
        if entry.shot_id is not None:
            ordered.append(known[entry.shot_id])
            continue
        assert entry.split_from is not None
        after = ordered[-1].id if ordered else None
        out = shots.create_shot(
            batch, project.id, _split_body(known[entry.split_from], entry.duration_frames, after)
        )
        new = session.get(Shot, out.id)
        assert new is not None
        ordered.append(new)
        created.append(ShotOut.of(new))
    if len(ordered) > 1:
        shots.reorder_shots(
            batch, project.id, ReorderBody(shots=[ReorderItem(id=s.id, revision=s.revision) for s in ordered])
        )
    result = ChangesResult(
        applied=body.apply,
        shots=[ShotOut.of(s).model_dump(mode="json") for s in ordered],
        created=[s.model_dump(mode="json") for s in created],
        omitted=omitted,
        durations=durations,
    )
    batch.finish() if body.apply else batch.abandon()
    return result


def _check(body: ChangesBody, known: dict[uuid.UUID, Shot]) -> None:
    seen: set[uuid.UUID] = set()
    for index, entry in enumerate(body.shots):
        where = f"shots.{index}"
        if (entry.shot_id is None) == (entry.split_from is None):
            raise Unprocessable("give either shot_id (with revision) or split_from", field=where)
        target = entry.shot_id or entry.split_from
        if target not in known:
            raise Unprocessable(
                "not a shot of this project", field=f"{where}.{'shot_id' if entry.shot_id else 'split_from'}"
            )
        if entry.shot_id is not None:
            if entry.revision is None:
                raise Unprocessable("revision is required with shot_id", field=f"{where}.revision")
            if entry.shot_id in seen:
                raise Unprocessable(
                    "a shot is listed twice; a second strip is a split_from", field=f"{where}.shot_id"
                )
            seen.add(entry.shot_id)
    for index, item in enumerate(body.omit):
        if item.shot_id not in known:
            raise Unprocessable("not a shot of this project", field=f"omit.{index}.shot_id")
        if item.shot_id in seen:
            raise Unprocessable(
                "a shot cannot be both in the edit and omitted", field=f"omit.{index}.shot_id"
            )


def _split_body(source: Shot, frames: int, after: uuid.UUID | None) -> ShotCreate:
    """A new shot cut out of `source`: its scene, text, preset, environment and subjects; its own length."""
    return ShotCreate(
        scene_id=source.scene_id,
        description=source.description,
        action=source.action,
        dialogue=source.dialogue,
        camera_notes=source.camera_notes,
        duration_frames=frames,
        handle_in=source.handle_in,
        handle_out=source.handle_out,
        preset_id=source.preset_id,
        environment_id=source.environment_id,
        subjects=[SubjectIn(character_id=s.character_id, clothing=s.clothing) for s in source.subjects],
        after_shot_id=after,
    )
