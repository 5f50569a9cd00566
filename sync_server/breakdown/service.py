"""Breakdown drafts: make one from a script (parser or LLM), edit its items, discard it.

The LLM runs with no database transaction open: a slow model never holds a write lock. A failed run
stores nothing.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from .. import resources
from ..context import UnitOfWork
from ..crud import check_revision, flush_checked, get_or_404
from ..db.models import Character, CinematicPreset, Environment, Project
from ..db.models_breakdown import BreakdownDraft
from ..errors import ApiError, Conflict, Unprocessable
from ..settings import Settings
from . import templates
from .camera import PresetInfo
from .deterministic import breakdown_script
from .draft import DraftContent, DraftTitlePage
from .formats import chunks, detect_format, parse, title_page
from .llm import LlmConfig, LlmError, run_pieces
from .llm_schema import merge_replies
from .schemas import BreakdownCreate, DraftOut, DraftSummary, ItemUpdate, Match

PARSER_VERSION = "parser-2"  # parser-2: heading notes, joint and off-screen cues, edit notes, title page
ITEM_KINDS = {"CHR": "characters", "ENV": "environments", "SCN": "scenes", "SHT": "shots"}


class LlmFailed(ApiError):
    status, title, type_slug = 502, "LLM failed", "llm-failed"


class LlmTimedOut(ApiError):
    status, title, type_slug = 504, "LLM timed out", "llm-timeout"


def llm_config(settings: Settings) -> LlmConfig:
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    return LlmConfig(
        base_url=settings.llm_base_url,
        model=settings.llm_model,
        api_key=key or None,
        timeout_s=settings.llm_timeout_s,
        max_attempts=settings.llm_max_attempts,
    )


def preset_infos(session: Session, project_id: uuid.UUID) -> list[PresetInfo]:
    """The project's presets first, then the built-ins, as the camera matcher sees them."""
    rows = session.scalars(
        select(CinematicPreset)
        .where(or_(CinematicPreset.project_id == project_id, CinematicPreset.project_id.is_(None)))
        .order_by(CinematicPreset.builtin, CinematicPreset.name)
    )
    return [PresetInfo(p.name, p.shot_size, p.angle, p.movement) for p in rows]


def draft_out(session: Session, draft: BreakdownDraft) -> DraftOut:
    content = DraftContent.model_validate(draft.content)
    return DraftOut.model_validate(
        {
            **{c.key: getattr(draft, c.key) for c in BreakdownDraft.__table__.columns if c.key != "content"},
            "content": content,
            "matches": matches(session, draft.project_id, content) if draft.status == "draft" else {},
        }
    )


# Audit events and live events carry a summary of the draft, not its (possibly long) content.
DRAFT = resources.Resource(BreakdownDraft, "breakdown", DraftSummary.model_validate)


def save(
    uow: UnitOfWork,
    draft: BreakdownDraft,
    values: dict[str, Any],
    revision: int,
    changes: dict[str, list[Any]],
) -> DraftOut:
    """Write `values` to the draft if `revision` is current and record `changes` (item-level) in the
    audit log; the caller commits."""
    check_revision(draft, revision, "breakdown", lambda: draft_out(uow.session, draft))
    before = draft.revision
    for key, value in values.items():
        setattr(draft, key, value)
    flush_checked(uow, draft, "breakdown", lambda: draft_out(uow.session, draft))
    uow.record(
        "breakdown.updated",
        "breakdown",
        draft.id,
        project_id=draft.project_id,
        revision_before=before,
        revision_after=draft.revision,
        changes=changes,
        data=DraftSummary.model_validate(draft).model_dump(mode="json"),
    )
    return draft_out(uow.session, draft)


def find_character(session: Session, project_id: uuid.UUID, names: list[str]) -> Character | None:
    """The project's character whose name or an alias equals one of `names` (case-insensitive)."""
    wanted = {n.casefold() for n in names if n}
    for character in session.scalars(
        select(Character).where(Character.project_id == project_id).order_by(Character.created_at)
    ):
        if {character.name.casefold(), *(a.casefold() for a in character.aliases)} & wanted:
            return character
    return None


def find_environment(session: Session, project_id: uuid.UUID, name: str) -> Environment | None:
    return session.scalar(
        select(Environment).where(
            Environment.project_id == project_id, func.lower(Environment.name) == name.lower()
        )
    )


def matches(session: Session, project_id: uuid.UUID, content: DraftContent) -> dict[str, Match]:
    found: dict[str, Match] = {}
    for character in content.characters:
        existing = find_character(session, project_id, [character.name, *character.aliases])
        if existing is not None:
            found[character.id] = Match(id=existing.id, name=existing.name)
    for environment in content.environments:
        existing_env = find_environment(session, project_id, environment.name)
        if existing_env is not None:
            found[environment.id] = Match(id=existing_env.id, name=existing_env.name)
    return found


def create_draft(
    settings: Settings,
    write_uow: Callable[[], AbstractContextManager[UnitOfWork]],
    project_id: uuid.UUID,
    body: BreakdownCreate,
) -> DraftOut:
    """Break the script down with the parser or the LLM and store the result as a draft."""
    fmt = detect_format(body.text, body.source_name) if body.format == "auto" else body.format
    engine = body.engine if body.engine != "auto" else ("llm" if fmt == "prose" else "parser")
    if engine == "parser" and fmt == "prose":
        raise Unprocessable(
            "free prose has no scene headings for the parser: use engine 'llm', or mark scenes with "
            "INT./EXT. (Fountain) or S#1. (Korean) headings",
            field="engine",
        )
    detail: dict[str, Any] = {}
    template_name: str | None = None
    template_version: int | None = None
    with write_uow() as uow:
        get_or_404(uow.session, Project, project_id, "project")
        presets = preset_infos(uow.session, project_id)
        if engine == "llm":
            system = templates.current(uow.session, templates.SYSTEM)
            user = templates.current(uow.session, templates.USER)
            uow.session.commit()
            template_name, template_version = system.name, system.version
            detail["templates"] = {system.name: system.version, user.name: user.version}
            system_body, user_body = system.body, user.body
    warnings: list[str] = []
    if engine == "parser":
        script = parse(body.text, fmt)
        content = breakdown_script(script, presets)
        warnings += script.warnings
        detail.update(engine_version=PARSER_VERSION, notes=script.notes)
    else:
        pieces = chunks(body.text, fmt, settings.llm_chunk_chars)
        if not pieces:
            raise Unprocessable("the text is empty", field="text")
        try:
            replies, run = run_pieces(llm_config(settings), system_body, user_body, pieces, script_format=fmt)
        except LlmError as exc:
            error = LlmTimedOut if exc.kind == "timeout" else LlmFailed
            raise error(
                f"The breakdown was not made and nothing was stored: {exc.message}",
                field="text",
                llm_error=exc.kind,
                part=exc.piece,
                parts=len(pieces),
                attempts=exc.attempts,
            ) from exc
        content = merge_replies(replies, presets)
        content.title_page = DraftTitlePage.from_keys(title_page(body.text, fmt))
        content.title = content.title or " ".join(content.title_page.title.split())[:200]
        detail.update(run.as_dict())
    if not content.scenes and not content.shots:
        raise Unprocessable("no scenes or shots were found in the text", field="text")
    warnings += [f"{path}: {message}" for path, message in content.problems()]
    with write_uow() as uow:
        draft = _new_draft(
            uow, project_id, body.source_name, fmt, body.text, engine, detail, content, warnings
        )
        draft.template_name, draft.template_version = template_name, template_version
        resources.create(uow, DRAFT, draft)
        return draft_out(uow.session, draft)


def _new_draft(
    uow: UnitOfWork,
    project_id: uuid.UUID,
    source_name: str,
    fmt: str,
    text: str,
    engine: str,
    detail: dict[str, Any],
    content: DraftContent,
    warnings: list[str],
) -> BreakdownDraft:
    return BreakdownDraft(
        project_id=project_id,
        source_name=source_name,
        source_format=fmt,
        source_text=text,
        source_sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        engine=engine,
        engine_detail=detail,
        content=content.model_dump(mode="json"),
        warnings=warnings,
        created_by=uow.actor.name,
    )


def parse_into_draft(uow: UnitOfWork, project_id: uuid.UUID, text: str, source_name: str) -> BreakdownDraft:
    """The deterministic parser's draft of a structured script, stored in the caller's unit of work
    (used by `aipipe demo`, which has no HTTP request and no LLM)."""
    fmt = detect_format(text, source_name)
    script = parse(text, fmt)
    content = breakdown_script(script, preset_infos(uow.session, project_id))
    detail = {"engine_version": PARSER_VERSION, "notes": script.notes}
    draft = _new_draft(uow, project_id, source_name, fmt, text, "parser", detail, content, script.warnings)
    resources.create(uow, DRAFT, draft)
    return draft


def get_draft(session: Session, draft_id: uuid.UUID) -> BreakdownDraft:
    return get_or_404(session, BreakdownDraft, draft_id, "breakdown")


def _editable(session: Session, draft_id: uuid.UUID, revision: int) -> BreakdownDraft:
    draft = get_draft(session, draft_id)
    check_revision(draft, revision, "breakdown", lambda: draft_out(session, draft))
    if draft.status != "draft":
        raise Conflict(f"This breakdown is {draft.status}; it can no longer change.", field="id")
    return draft


def update_item(
    uow: UnitOfWork, draft_id: uuid.UUID, item_id: str, body: ItemUpdate, revision: int
) -> DraftOut:
    """Edit, accept or drop one item of a draft."""
    draft = _editable(uow.session, draft_id, revision)
    content = DraftContent.model_validate(draft.content)
    kind = ITEM_KINDS.get(item_id.split("-", 1)[0])
    items = {i.id: i for i in getattr(content, kind)} if kind else {}
    if item_id not in items:
        raise Unprocessable(f"this breakdown has no item {item_id}", field="item_id")
    item = items[item_id]
    changes = body.model_dump(exclude_unset=True, exclude={"revision"})
    for name, value in changes.items():
        if name not in type(item).model_fields:
            raise Unprocessable(f"a {kind[:-1]} has no field '{name}'", field=name)
        if value is None and name not in ("environment_ref", "preset"):
            raise Unprocessable(f"{name} cannot be null", field=name)
    try:
        updated = type(item).model_validate({**item.model_dump(), **changes})
    except ValidationError as exc:
        first = exc.errors()[0]
        raise Unprocessable(first["msg"], field=".".join(str(p) for p in first["loc"])) from exc
    group = getattr(content, kind)
    group[[i.id for i in group].index(item_id)] = updated
    problems = [p for p in content.problems() if p[0].startswith(item_id)]
    if problems:
        raise Unprocessable(problems[0][1], field=problems[0][0].split(".", 1)[1])
    before = item.model_dump(mode="json")
    after = updated.model_dump(mode="json")
    changed = {f"{item_id}.{k}": [before[k], after[k]] for k in after if before[k] != after[k]}
    if not changed:
        return draft_out(uow.session, draft)
    out = save(uow, draft, {"content": content.model_dump(mode="json")}, revision, changed)
    uow.commit()
    return out


def discard(uow: UnitOfWork, draft_id: uuid.UUID, revision: int) -> DraftOut:
    """Mark a draft discarded (it stays readable; nothing in the project changes)."""
    draft = _editable(uow.session, draft_id, revision)
    out = save(uow, draft, {"status": "discarded"}, revision, {"status": ["draft", "discarded"]})
    uow.commit()
    return out
