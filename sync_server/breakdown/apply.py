"""Apply a draft: scenes, shots, characters and environments, all in one transaction.

Every item not dropped is applied. A character whose name or an alias matches an existing character's
name or alias merges into it (new aliases and clothing are added, an empty description is filled);
environments merge by name the same way. Scenes and shots are always new, appended after the project's
last ones. Any refusal rolls the whole apply back: the project is as it was.

Everything is planned before the write transaction starts (`plan`: the rows, their codes and the audit
events, in a read session), so the transaction (SQLite's one write lock) lasts only for a check that
nothing the plan read has changed and a few bulk statements. Codes are taken under the project row's lock,
as `POST /shots` takes them: when the check finds anything changed since the plan, it is planned again
while the lock is held.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import resources
from ..catalog.characters import CHARACTER
from ..catalog.environments import ENVIRONMENT
from ..catalog.scenes import SceneOut
from ..context import PreparedEvents, UnitOfWork, prepare_events
from ..db.base import utcnow
from ..db.models import Character, CinematicPreset, Environment, Project, Scene, Shot, ShotSubject
from ..db.models_breakdown import BreakdownDraft
from ..errors import Conflict, Unprocessable
from ..shots.codes import SHOT_STEP, next_scene_code, next_shot_code
from ..shots.schemas import ShotOut
from ..shots.service import lock_project_codes
from ..storage.layout import ProjectLayout
from .draft import DraftContent
from .schemas import DraftOut
from .service import _editable, get_draft, save

logger = logging.getLogger(__name__)
ORDER_STEP = 1000
BATCH = 1000  # rows per executemany call
SCENES, SHOTS, SUBJECTS = Scene.__table__, Shot.__table__, ShotSubject.__table__
ENV_FIELDS = ("location", "time_of_day", "weather", "mood", "prompt", "description")
REPORT_KEYS = (
    "characters_created",
    "characters_merged",
    "environments_created",
    "environments_merged",
    "scenes",
    "shots",
    "skipped",
)
CHANGED_MEANWHILE = (
    "The project changed while the breakdown was being applied; nothing was applied. Try again."
)


@dataclass
class Known:
    """A character or environment of the project as the plan sees it: existing, or made by this apply."""

    id: uuid.UUID
    name: str
    new: bool
    aliases: list[str] = field(default_factory=list)
    clothing_options: list[str] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)  # fields of an environment


@dataclass
class Plan:
    """What the apply writes, made before the write transaction; `seen` is what it was made from."""

    project_id: uuid.UUID
    seen: tuple[Any, ...]
    # (kind, id, values): a new character/environment's fields, or a merge's changed fields, in draft order.
    assets: list[tuple[str, uuid.UUID, dict[str, Any]]] = field(default_factory=list)
    scenes: list[dict[str, Any]] = field(default_factory=list)
    shots: list[dict[str, Any]] = field(default_factory=list)
    subjects: list[dict[str, Any]] = field(default_factory=list)
    events: list[Any] = field(default_factory=list)  # the scenes' and shots' audit events
    prepared: PreparedEvents | None = None  # their rows made ready ahead, where that applies
    report: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def _merge_list(existing: list[str], extra: list[str], exclude: str = "") -> list[str]:
    seen = {v.casefold() for v in existing} | ({exclude.casefold()} if exclude else set())
    merged = list(existing)
    for value in extra:
        if value and value.casefold() not in seen:
            seen.add(value.casefold())
            merged.append(value)
    return merged


def _clothing(chosen: str, options: list[str], text: str) -> str:
    """The subject's clothing: the draft's choice if it is one of the character's options, else the
    first option the shot's action names ("빨간 코트를 입은 리나가 ..."), else none."""
    if chosen and (chosen in options or not options):
        return chosen
    return next((option for option in options if option and option.casefold() in text.casefold()), "")


def _presets(session: Session, project_id: uuid.UUID) -> dict[str, uuid.UUID]:
    """Preset ids by lower-case name; the project's own win over built-ins of the same name."""
    found: dict[str, uuid.UUID] = {}
    for preset in session.scalars(
        select(CinematicPreset)
        .where((CinematicPreset.project_id == project_id) | CinematicPreset.project_id.is_(None))
        .order_by(CinematicPreset.builtin.desc())
    ):
        found[preset.name.lower()] = preset.id
    return found


def seen_by(session: Session, draft_id: uuid.UUID, project_id: uuid.UUID) -> tuple[Any, ...]:
    """Everything a plan depends on, by revision: equal tuples mean the plan is still right."""

    def pairs(model: Any, *where: Any) -> list[tuple[Any, ...]]:
        return sorted(tuple(row) for row in session.execute(select(model.id, model.revision).where(*where)))

    in_project = (Shot.project_id == project_id,)
    return (
        session.execute(
            select(BreakdownDraft.revision, BreakdownDraft.status).where(BreakdownDraft.id == draft_id)
        ).one_or_none(),
        session.scalar(select(Project.revision).where(Project.id == project_id)),
        pairs(Character, Character.project_id == project_id),
        pairs(Environment, Environment.project_id == project_id),
        pairs(
            CinematicPreset,
            (CinematicPreset.project_id == project_id) | CinematicPreset.project_id.is_(None),
        ),
        sorted(session.scalars(select(Shot.code).where(*in_project))),
        session.scalar(select(func.max(Shot.sort_order)).where(*in_project)),
        sorted(session.scalars(select(Scene.code).where(Scene.project_id == project_id))),
        session.scalar(select(func.max(Scene.sort_order)).where(Scene.project_id == project_id)),
    )


def plan(uow: UnitOfWork, session: Session, draft_id: uuid.UUID, revision: int) -> Plan:
    """The apply's rows and audit events, read from `session` (no writes); refusals raise here."""
    draft = _editable(session, draft_id, revision)
    content = DraftContent.model_validate(draft.content)
    problems = content.problems()
    if problems:
        raise Unprocessable(problems[0][1], field=problems[0][0])
    project = session.get(Project, draft.project_id)
    assert project is not None  # a draft's project is deleted with it
    result = Plan(project.id, seen_by(session, draft_id, project.id))
    result.report = {key: [] for key in REPORT_KEYS}
    characters = _characters(session, project.id, content, result)
    environments = _environments(session, project.id, content, result)
    _scenes_and_shots(uow, session, project, content, characters, environments, result)
    result.prepared = prepare_events(session.get_bind().dialect, result.events)
    return result


def _characters(
    session: Session, project_id: uuid.UUID, content: DraftContent, out: Plan
) -> dict[str, Known]:
    """Each kept draft character as the project's character it becomes (new, or merged into one)."""
    known = [
        Known(c.id, c.name, False, list(c.aliases), list(c.clothing_options), {"description": c.description})
        for c in session.scalars(
            select(Character).where(Character.project_id == project_id).order_by(Character.created_at)
        )
    ]
    found: dict[str, Known] = {}
    for item in content.characters:
        if item.decision == "dropped":
            continue
        wanted = {n.casefold() for n in (item.name, *item.aliases) if n}
        existing = next(
            (k for k in known if {k.name.casefold(), *(a.casefold() for a in k.aliases)} & wanted), None
        )
        if existing is None:
            made = Known(uuid.uuid4(), item.name, True, list(item.aliases), list(item.clothing))
            made.values = {"description": item.description}
            known.append(made)
            values = {
                "name": item.name,
                "aliases": list(item.aliases),
                "description": item.description,
                "clothing_options": list(item.clothing),
            }
            out.assets.append(("character", made.id, values))
            out.report["characters_created"].append({"ref": item.id, "id": str(made.id), "name": item.name})
            found[item.id] = made
            continue
        values = {
            "aliases": _merge_list(existing.aliases, [item.name, *item.aliases], exclude=existing.name),
            "clothing_options": _merge_list(existing.clothing_options, item.clothing),
        }
        if not existing.values["description"] and item.description:
            values["description"] = item.description
        existing.aliases, existing.clothing_options = values["aliases"], values["clothing_options"]
        existing.values["description"] = values.get("description", existing.values["description"])
        out.assets.append(("character", existing.id, values))
        out.report["characters_merged"].append(
            {"ref": item.id, "id": str(existing.id), "name": existing.name}
        )
        found[item.id] = existing
    return found


def _environments(
    session: Session, project_id: uuid.UUID, content: DraftContent, out: Plan
) -> dict[str, Known]:
    """Each kept draft environment as the project's environment it becomes (new, or merged by name)."""
    known = {
        e.name.lower(): Known(e.id, e.name, False, values={f: getattr(e, f) for f in ENV_FIELDS})
        for e in session.scalars(select(Environment).where(Environment.project_id == project_id))
    }
    found: dict[str, Known] = {}
    for item in content.environments:
        if item.decision == "dropped":
            continue
        existing = known.get(item.name.lower())
        if existing is None:
            made = Known(uuid.uuid4(), item.name, True, values={f: getattr(item, f) for f in ENV_FIELDS})
            known[item.name.lower()] = made
            out.assets.append(("environment", made.id, {"name": item.name, **made.values}))
            out.report["environments_created"].append({"ref": item.id, "id": str(made.id), "name": item.name})
            found[item.id] = made
            continue
        values = {f: getattr(item, f) for f in ENV_FIELDS if getattr(item, f) and not existing.values[f]}
        existing.values.update(values)
        out.assets.append(("environment", existing.id, values))
        out.report["environments_merged"].append(
            {"ref": item.id, "id": str(existing.id), "name": existing.name}
        )
        found[item.id] = existing
    return found


def _scenes_and_shots(
    uow: UnitOfWork,
    session: Session,
    project: Project,
    content: DraftContent,
    characters: dict[str, Known],
    environments: dict[str, Known],
    out: Plan,
) -> None:
    presets = _presets(session, project.id)
    layout = ProjectLayout.of(project)
    fps = project.fps_num / project.fps_den
    codes = list(session.scalars(select(Shot.code).where(Shot.project_id == project.id)))
    order = session.scalar(select(func.max(Shot.sort_order)).where(Shot.project_id == project.id)) or 0
    scene_order = (
        session.scalar(select(func.max(Scene.sort_order)).where(Scene.project_id == project.id)) or 0
    )
    now = utcnow()
    scenes: dict[str, uuid.UUID] = {}
    scene_code = ""
    for item in content.scenes:
        if item.decision == "dropped":
            continue
        scene_order += 10
        # The next free code once, then counting on (parsing every code per scene would be quadratic).
        scene_code = (
            layout.scene_code(layout.scene_number(scene_code) + 1)
            if scene_code
            else next_scene_code(
                layout, session.scalars(select(Scene.code).where(Scene.project_id == project.id))
            )
        )
        row = {
            "id": uuid.uuid4(),
            "project_id": project.id,
            "code": scene_code,
            "name": (item.name or item.heading)[:200],
            "description": item.description,
            "sort_order": scene_order,
            "revision": 1,
            "created_at": now,
            "updated_at": now,
        }
        out.scenes.append(row)
        scenes[item.id] = row["id"]
        data = SceneOut.model_validate(SimpleNamespace(**row)).model_dump(mode="json")
        out.events.append(
            uow.event("scene.created", "scene", row["id"], project_id=project.id, revision_after=1, data=data)
        )
        out.report["scenes"].append({"ref": item.id, "id": str(row["id"]), "code": scene_code})
    code = ""
    for item in content.shots:
        if item.decision == "dropped" or item.scene_ref not in scenes:
            if item.decision != "dropped":
                out.report["skipped"].append(
                    {"ref": item.id, "why": f"its scene {item.scene_ref} is dropped"}
                )
            continue
        code = (
            layout.shot_code(layout.shot_number(code) + SHOT_STEP) if code else next_shot_code(layout, codes)
        )
        order += ORDER_STEP
        preset_id = presets.get(item.preset.lower()) if item.preset else None
        if item.preset and preset_id is None:
            raise Unprocessable(
                f"{item.id}: no cinematic preset named '{item.preset}' in this project or the built-ins",
                field=f"{item.id}.preset",
            )
        environment = environments.get(item.environment_ref) if item.environment_ref else None
        row = {
            "id": uuid.uuid4(),
            "project_id": project.id,
            "scene_id": scenes[item.scene_ref],
            "code": code,
            "sort_order": order,
            "description": item.description,
            "action": item.action,
            "dialogue": item.dialogue,
            "camera_notes": "; ".join(x for x in (item.suggested_camera, item.camera_notes) if x),
            "duration_frames": max(1, round(item.duration_s * fps)),
            "handle_in": None,
            "handle_out": None,
            "preset_id": preset_id,
            "environment_id": environment.id if environment else None,
            "status": "draft",
            "locked": False,
            "render_workflow": None,
            "revision": 1,
            "created_at": now,
            "updated_at": now,
        }
        subjects: list[dict[str, Any]] = []
        for subject in item.subjects:
            character = characters.get(subject.character_ref)
            if character is None or any(s["character_id"] == character.id for s in subjects):
                continue
            clothing = _clothing(
                subject.clothing, character.clothing_options, f"{item.action} {item.description}"
            )
            subjects.append(
                {
                    "shot_id": row["id"],
                    "character_id": character.id,
                    "clothing": clothing,
                    "position": len(subjects),
                }
            )
        out.shots.append(row)
        out.subjects += subjects
        shown = SimpleNamespace(**row, subjects=[SimpleNamespace(**s) for s in subjects])
        data = ShotOut.of(shown).model_dump(mode="json")
        out.events.append(
            uow.event("shot.created", "shot", row["id"], project_id=project.id, revision_after=1, data=data)
        )
        out.report["shots"].append({"ref": item.id, "id": str(row["id"]), "code": code})


def apply_draft(
    uow: UnitOfWork,
    draft_id: uuid.UUID,
    revision: int,
    read: Callable[[], AbstractContextManager[Session]] | None = None,
) -> DraftOut:
    """Create what the draft holds in its project, or nothing at all. `read`: a read session to plan in
    before the write transaction starts (without it, the plan is made in the write transaction)."""
    out, timings = timed_apply(uow, draft_id, revision, read)
    logger.info("breakdown draft applied", extra=timings)
    return out


def timed_apply(
    uow: UnitOfWork,
    draft_id: uuid.UUID,
    revision: int,
    read: Callable[[], AbstractContextManager[Session]] | None = None,
) -> tuple[DraftOut, dict[str, Any]]:
    """`apply_draft`, and how long its plan and its write took (what `apply_draft` logs)."""
    started, cpu = time.perf_counter(), time.thread_time()
    replanned = False
    if read is not None:
        with read() as session:
            planned = plan(uow, session, draft_id, revision)
        planned_cpu = time.thread_time() - cpu
        waited = time.perf_counter()
        # The write transaction starts here (SQLite: its write lock; PostgreSQL: the project row).
        lock_project_codes(uow.session, planned.project_id)
        locked, locked_cpu = time.perf_counter(), time.thread_time()
        if seen_by(uow.session, draft_id, planned.project_id) != planned.seen:
            replanned = True
            planned = plan(uow, uow.session, draft_id, revision)  # changed meanwhile: again, holding the lock
    else:
        draft = _editable(uow.session, draft_id, revision)
        waited = time.perf_counter()
        lock_project_codes(uow.session, draft.project_id)  # new shot codes: one writer at a time
        locked, locked_cpu = time.perf_counter(), time.thread_time()
        planned_cpu = 0.0
        planned = plan(uow, uow.session, draft_id, revision)
    write(uow, planned)
    draft = get_draft(uow.session, draft_id)
    counts = {key: len(value) for key, value in planned.report.items()}
    out = save(
        uow,
        draft,
        {"status": "applied", "result": planned.report, "applied_by": uow.actor.name, "applied_at": utcnow()},
        revision,
        {"status": ["draft", "applied"], "result": [None, counts]},
    )
    uow.commit()
    done = time.perf_counter()
    return out, {
        "shots": counts["shots"],
        "plan_s": round(waited - started, 3),
        "plan_cpu_s": round(planned_cpu, 3),
        "lock_wait_s": round(locked - waited, 3),
        "write_s": round(done - locked, 3),  # the lock held (SQLite: the write lock), commit included
        "write_cpu_s": round(time.thread_time() - locked_cpu, 3),
        "replanned": replanned,
    }


def write(uow: UnitOfWork, planned: Plan) -> None:
    """The plan's statements: characters and environments through the ORM (a few, merges need their
    revisions checked), scenes, shots and subjects in bulk, then every audit event in one INSERT."""
    session = uow.session
    for kind, asset_id, values in planned.assets:
        res, model = (CHARACTER, Character) if kind == "character" else (ENVIRONMENT, Environment)
        existing = session.get(model, asset_id)
        if existing is None:
            resources.create(
                uow, res, model(id=asset_id, project_id=planned.project_id, **values), commit=False
            )
        else:
            resources.update(uow, res, existing, values, existing.revision, commit=False)
    try:
        for table, rows in ((SCENES, planned.scenes), (SHOTS, planned.shots), (SUBJECTS, planned.subjects)):
            for batch in _batches(rows):
                session.execute(insert(table), list(batch))
    except IntegrityError as exc:
        raise Conflict(CHANGED_MEANWHILE, field="id") from exc
    uow.record_all(planned.events, prepared=planned.prepared)


def _batches(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), BATCH):
        yield items[start : start + BATCH]
