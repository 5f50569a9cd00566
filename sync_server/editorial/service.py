"""Editorial rules: export the edit, and read an EDL / XML / OTIO back into the shot list."""

from __future__ import annotations

import dataclasses
import uuid
from fractions import Fraction
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlparse

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..context import UnitOfWork
from ..crud import get_or_404
from ..db.models import Project, Scene, Shot
from ..errors import Unprocessable
from ..shots import service as shots
from ..shots.codes import next_shot_code
from ..shots.schemas import ReorderBody, ReorderItem, ShotCreate, ShotOut, ShotUpdate
from ..storage.layout import CodeError, ProjectLayout
from . import exchange
from .changes import OneTransaction
from .edit import load_edit, reference_audio, review_notes, version_media
from .reels import reel_base
from .schemas import (
    MAX_SHOT_FRAMES,
    CutBody,
    EditOut,
    EditShotOut,
    ImportBody,
    ImportEvent,
    ImportResult,
    MediaOut,
    NoteOut,
)
from .timeline import Cut, EditMedia, EditShot, TimecodeError, build_timeline, cuts_of


@dataclasses.dataclass(frozen=True)
class Exported:
    """An exported edit: the file, its name, and a warning per shot whose movie is shorter than the cut."""

    written: exchange.Written
    filename: str
    warnings: list[str]


def _export(project: Project, name: str, shots: list[EditShot], fmt: str, record_start: str) -> Exported:
    try:
        timeline = build_timeline(
            f"{project.code}_{name}",
            shots,
            project.fps_num,
            project.fps_den,
            record_start,
            size=(project.width, project.height),
        )
    except TimecodeError as exc:
        raise Unprocessable(str(exc), field="record_start") from exc
    written = exchange.write(timeline, fmt)
    warnings = [w for w in (s.warning for s in shots) if w]
    return Exported(written, f"{project.code}_{name}.{written.extension}", warnings)


def exported_edit(
    session: Session, project_id: uuid.UUID, storage_root: Path, fmt: str, record_start: str
) -> Exported:
    """The edit as `fmt` text, a file name for it, and its warnings."""
    edit = load_edit(session, project_id, storage_root)
    return _export(edit.project, "edit", edit.shots, fmt, record_start)


def export_edit(
    session: Session, project_id: uuid.UUID, storage_root: Path, fmt: str, record_start: str
) -> tuple[exchange.Written, str]:
    """The edit as `fmt` text and a file name for it (`exported_edit` adds the warnings)."""
    exported = exported_edit(session, project_id, storage_root, fmt, record_start)
    return exported.written, exported.filename


def edit_out(session: Session, project_id: uuid.UUID, storage_root: Path, record_start: str) -> EditOut:
    """The edit as the add-on builds it: shots in order with the media each shows."""
    edit = load_edit(session, project_id, storage_root)
    notes = review_notes(session, [s.media.version_id for s in edit.shots if s.media is not None])
    audio = reference_audio(session, edit.project.id, storage_root)
    return EditOut(
        project_id=edit.project.id,
        fps_num=edit.project.fps_num,
        fps_den=edit.project.fps_den,
        record_start=record_start,
        frames=edit.frames,
        warnings=[w for w in (s.warning for s in edit.shots) if w],
        shots=[
            EditShotOut(
                shot_id=s.shot_id,
                code=s.code,
                revision=s.revision,
                duration_frames=s.duration,
                handle_in=s.handle_in,
                source_in=s.source_in,
                missing_frames=s.missing,
                warning=s.warning,
                media=_media_out(s.media) if s.media is not None else None,
                notes=[
                    NoteOut(frame=n.frame or 0, text=n.text, verdict=n.verdict, author=n.author_name)
                    for n in (notes.get(s.media.version_id, []) if s.media is not None else [])
                ],
                audio=_media_out(audio[s.shot_id]) if s.shot_id in audio else None,
            )
            for s in edit.shots
        ],
    )


def _media_out(media: EditMedia) -> MediaOut:
    return MediaOut(
        version_id=media.version_id,
        stage=media.stage,
        number=media.number,
        file_id=media.file_id,
        name=media.name,
        path=media.relative,
        url=f"/api/versions/{media.version_id}/files/{media.file_id}"
        if media.path and media.file_id
        else None,
        sha256=media.sha256,
        still=media.still,
        frames=media.frames,
        first_frame=media.first_frame,
        handle_in=media.handle_in,
        handle_out=media.handle_out,
    )


def export_cut(
    session: Session, project_id: uuid.UUID, storage_root: Path, body: CutBody, record_start: str
) -> Exported:
    """A cut given by the caller (the add-on's VSE: shots, lengths, media) as `body.format` text."""
    edit = load_edit(session, project_id, storage_root)
    project = edit.project
    in_edit = {s.shot_id: s for s in edit.shots}
    cut: list[EditShot] = []
    for index, entry in enumerate(body.cut):
        base = in_edit.get(entry.shot_id)
        if base is None:
            raise Unprocessable("not a shot of this project's edit", field=f"cut.{index}.shot_id")
        media = base.media
        if entry.version_id is not None and (media is None or media.version_id != entry.version_id):
            rate = Fraction(project.fps_num, project.fps_den)
            media = version_media(session, entry.version_id, entry.shot_id, storage_root, rate)
            if media is None:
                raise Unprocessable(
                    "not a version of this shot with a picture or movie", field=f"cut.{index}.version_id"
                )
        cut.append(
            dataclasses.replace(base, duration=entry.frames, media=media, source_override=entry.source_in)
        )
    return _export(project, "vse", cut, body.format, record_start)


# -- import -------------------------------------------------------------------------------------------


def import_edit(uow: UnitOfWork, project_id: uuid.UUID, body: ImportBody) -> ImportResult:
    """Match the file's events to shots (or plan new ones); with `apply`, set durations, add, reorder."""
    session = uow.session
    # Applying adds shots with codes from the naming rules: it takes its turn like any shot create.
    project = (
        shots.lock_project_codes(session, project_id)
        if body.apply
        else get_or_404(session, Project, project_id, "project")
    )
    try:
        timeline = exchange.read(body.content, body.format, project.fps_num, project.fps_den)
    except exchange.ExchangeError as exc:
        raise Unprocessable(str(exc), field="content") from exc
    cuts = cuts_of(timeline, project.fps_num, project.fps_den)
    if not cuts:
        raise Unprocessable(f"the {body.format} file has no video events", field="content")
    for index, cut in enumerate(cuts, start=1):
        if not 1 <= cut.duration <= MAX_SHOT_FRAMES:
            raise Unprocessable(
                f"event {index} ({cut.name or cut.reel}) is {cut.duration} frames long; a shot needs 1 to "
                f"{MAX_SHOT_FRAMES:,}",
                field="content",
                event=index,
            )
    existing = list(
        session.scalars(select(Shot).where(Shot.project_id == project.id).order_by(Shot.sort_order))
    )
    events = _match(cuts, existing, ProjectLayout.of(project))
    in_file = [e.shot_id for e in events if e.action == "match"]
    listed = set(in_file)
    live = [s.id for s in existing if s.status != "omitted" and s.id in listed]
    order_changed = live != in_file or any(e.action == "create" for e in events)
    result = ImportResult(
        format=body.format,
        record_start=exchange.record_offset(timeline, project.fps_num, project.fps_den),
        events=events,
        order_changed=order_changed,
        applied=False,
    )
    if not body.apply:
        return result
    applied = _apply(uow, project, existing, events, body.scene_id)
    return result.model_copy(update={"applied": True, "shots": [s.model_dump(mode="json") for s in applied]})


def _match(cuts: list[Cut], shots_: list[Shot], layout: ProjectLayout) -> list[ImportEvent]:
    by_id = {str(s.id): s for s in shots_}
    by_code = {s.code.casefold(): s for s in shots_}
    reels: dict[str, list[Shot]] = {}
    for shot in shots_:
        reels.setdefault(reel_base(shot.code), []).append(shot)
    used: set[uuid.UUID] = set()
    planned: dict[str, str] = {s.code.casefold(): s.code for s in shots_}
    events: list[ImportEvent] = []
    for index, cut in enumerate(cuts, start=1):
        shot, how = _find(cut, by_id, by_code, reels)
        if shot is not None and shot.id in used:
            action, code = "repeat", shot.code
        elif shot is not None:
            action, code = "match", shot.code
            used.add(shot.id)
        else:
            action, how = "create", None
            code = _new_code(cut.name, layout, planned)
            planned[code.casefold()] = code
        events.append(
            ImportEvent(
                index=index,
                name=cut.name,
                reel=cut.reel,
                record_in=cut.record_in,
                duration_frames=cut.duration,
                action=action,
                matched_by=how,
                shot_id=shot.id if shot is not None else None,
                code=code,
                duration_before=shot.duration_frames if shot is not None else None,
            )
        )
    return events


def _find(
    cut: Cut, by_id: dict[str, Shot], by_code: dict[str, Shot], reels: dict[str, list[Shot]]
) -> tuple[Shot | None, str | None]:
    if cut.shot_id and cut.shot_id in by_id:
        return by_id[cut.shot_id], "shot_id"
    name = cut.name.strip().casefold()
    if name in by_code:
        return by_code[name], "code"
    # a versioned media name: SHT_0010_render_v003(.mp4) -> the longest code it starts with
    for candidate, how in ((name, "versioned name"), (_media_stem(cut.media_url), "media name")):
        if candidate:
            prefixes = [c for c in by_code if candidate.startswith(c + "_") or candidate.startswith(c + ".")]
            if prefixes:
                return by_code[max(prefixes, key=len)], how
    if cut.reel and len(reels.get(cut.reel.upper(), [])) == 1:
        return reels[cut.reel.upper()][0], "reel"
    return None, None


def _media_stem(url: str | None) -> str:
    if not url:
        return ""
    return PurePosixPath(unquote(urlparse(url).path)).name.casefold()


def _new_code(name: str, layout: ProjectLayout, taken: dict[str, str]) -> str:
    """The event's name when it is a valid, free shot code; otherwise the next code from the naming rules."""
    candidate = name.strip()
    try:
        layout.shot_number(candidate)
        if candidate.casefold() not in taken:
            return candidate
    except CodeError:
        pass  # not a code of this project: it gets a new one below
    return next_shot_code(layout, taken.values())


def _apply(
    uow: UnitOfWork,
    project: Project,
    existing: list[Shot],
    events: list[ImportEvent],
    scene_id: uuid.UUID | None,
) -> list[ShotOut]:
    batch = OneTransaction.around(uow)
    session = batch.session
    by_id = {s.id: s for s in existing}
    ordered: list[Shot] = []
    previous_scene = scene_id
    for event in events:
        if event.action == "repeat":
            continue
        if event.action == "match":
            assert event.shot_id is not None
            shot = by_id[event.shot_id]
            if shot.duration_frames != event.duration_frames:
                shots.update_shot(
                    batch, shot.id, ShotUpdate(duration_frames=event.duration_frames), shot.revision
                )
            previous_scene = scene_id or shot.scene_id
        else:
            target_scene = previous_scene or _first_scene(session, project.id)
            out = shots.create_shot(
                batch,
                project.id,
                ShotCreate(scene_id=target_scene, code=event.code, duration_frames=event.duration_frames),
            )
            shot = session.get(Shot, out.id)
            assert shot is not None
        ordered.append(shot)
    if len(ordered) > 1:
        # the shots in the file take, in the file's order, the places they hold in the list between them
        shots.reorder_shots(
            batch,
            project.id,
            ReorderBody(shots=[ReorderItem(id=s.id, revision=s.revision) for s in ordered]),
        )
    batch.finish()
    return [ShotOut.of(s) for s in ordered]


def _first_scene(session: Session, project_id: uuid.UUID) -> uuid.UUID:
    scene = session.scalar(
        select(Scene).where(Scene.project_id == project_id).order_by(Scene.sort_order, Scene.code).limit(1)
    )
    if scene is None:
        raise Unprocessable("the project has no scene for the shots this file adds", field="scene_id")
    return scene.id
