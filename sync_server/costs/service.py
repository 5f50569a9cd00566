"""The roll-ups: one aggregate query per level (project, scene, shot, version), never a loop over jobs.

GPU time is what the agents reported for each job (`jobs.gpu_seconds`); retries are the tries after a job's
first (`attempts - 1`, a lost lease included); takes and renders count the previz and render versions.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, select
from sqlalchemy.orm import Session

from ..context import UnitOfWork
from ..db.models import Agent, Job, Project, Scene, Shot, Version
from ..errors import NotFound
from .budget import HOUR, budget_of, level_of, used_seconds
from .schemas import Budget, BudgetIn, ProjectCosts, ShotCostsDetail

JOB_LIMIT = 500  # jobs listed in a shot's costs (the totals count them all)


def _job_totals() -> list[ColumnElement[Any]]:
    return [
        func.coalesce(func.sum(Job.gpu_seconds), 0.0).label("gpu_seconds"),
        func.count(Job.id).label("jobs"),
        func.coalesce(func.sum(case((Job.status == "failed", 1), else_=0)), 0).label("failed_jobs"),
        func.coalesce(func.sum(case((Job.attempts > 1, Job.attempts - 1), else_=0)), 0).label("retries"),
        func.coalesce(func.sum(Job.lease_losses), 0).label("lease_losses"),
    ]


def _version_counts() -> list[ColumnElement[Any]]:
    return [
        func.coalesce(func.sum(case((Version.stage == "previz", 1), else_=0)), 0).label("takes"),
        func.coalesce(func.sum(case((Version.stage == "render", 1), else_=0)), 0).label("renders"),
    ]


def _totals(row: Any | None) -> dict[str, Any]:
    seconds = float(row.gpu_seconds) if row is not None else 0.0
    return {
        "gpu_seconds": round(seconds, 3),
        "gpu_hours": round(seconds / HOUR, 4),
        "jobs": int(row.jobs) if row is not None else 0,
        "failed_jobs": int(row.failed_jobs) if row is not None else 0,
        "retries": int(row.retries) if row is not None else 0,
        "lease_losses": int(row.lease_losses) if row is not None else 0,
    }


def _keyed(session: Session, query: Select[Any]) -> dict[Any, Any]:
    return {row[0]: row for row in session.execute(query)}


def _names(session: Session, query: Select[Any]) -> dict[Any, list[str]]:
    """(key..., name) rows, distinct in SQL, as sorted name lists per key (a tuple when several columns)."""
    found: dict[Any, list[str]] = defaultdict(list)
    for *key, name in session.execute(query.distinct()):
        found[tuple(key) if len(key) > 1 else key[0]].append(name)
    return {key: sorted(names) for key, names in found.items()}


def _group(
    job_row: Any | None, version_row: Any | None, models: Iterable[str], agents: Iterable[str]
) -> dict[str, Any]:
    return {
        **_totals(job_row),
        "takes": int(version_row.takes) if version_row is not None else 0,
        "renders": int(version_row.renders) if version_row is not None else 0,
        "models": list(models),
        "agents": list(agents),
    }


def shot_gpu_seconds(session: Session, project_id: uuid.UUID) -> dict[uuid.UUID, float]:
    """GPU seconds per shot of the project (shots without jobs left out): the shot list's "GPU hours"."""
    query = (
        select(Job.shot_id, func.sum(Job.gpu_seconds))
        .where(Job.project_id == project_id, Job.shot_id.is_not(None))
        .group_by(Job.shot_id)
    )
    return {shot_id: float(seconds or 0.0) for shot_id, seconds in session.execute(query)}


def project_costs(session: Session, project_id: uuid.UUID) -> ProjectCosts:
    project = session.get(Project, project_id)
    if project is None:
        raise NotFound(f"No project with id {project_id}.", field="id")
    in_project = Job.project_id == project_id
    by_shot_jobs = (Job.shot_id, Shot.scene_id)
    job_all = session.execute(select(*_job_totals()).where(in_project)).one()
    job_scene = _keyed(
        session,
        select(Shot.scene_id, *_job_totals())
        .join(Shot, Shot.id == Job.shot_id)
        .where(in_project)
        .group_by(Shot.scene_id),
    )
    job_shot = _keyed(session, select(Job.shot_id, *_job_totals()).where(in_project).group_by(Job.shot_id))
    versions = Version.project_id == project_id
    ver_all = session.execute(select(*_version_counts()).where(versions)).one()
    ver_scene = _keyed(
        session,
        select(Shot.scene_id, *_version_counts())
        .join(Shot, Shot.id == Version.shot_id)
        .where(versions)
        .group_by(Shot.scene_id),
    )
    ver_shot = _keyed(
        session, select(Version.shot_id, *_version_counts()).where(versions).group_by(Version.shot_id)
    )
    has_model = Job.model.is_not(None)
    pairs = _names(
        session,
        select(*by_shot_jobs, Job.model).outerjoin(Shot, Shot.id == Job.shot_id).where(in_project, has_model),
    )
    agent_pairs = _names(
        session,
        select(*by_shot_jobs, Agent.name)
        .join(Agent, Agent.id == Job.agent_id)
        .outerjoin(Shot, Shot.id == Job.shot_id)
        .where(in_project),
    )
    models = _roll_names(pairs)
    agents = _roll_names(agent_pairs)
    scenes = session.execute(
        select(Scene.id, Scene.code)
        .where(Scene.project_id == project_id)
        .order_by(Scene.sort_order, Scene.code)
    ).all()
    shots = session.execute(
        select(Shot.id, Shot.scene_id, Shot.code)
        .join(Scene, Scene.id == Shot.scene_id)
        .where(Shot.project_id == project_id)
        .order_by(Scene.sort_order, Scene.code, Shot.sort_order, Shot.code)
    ).all()
    return ProjectCosts(
        project_id=project_id,
        budget=budget_of(project.gpu_budget_hours, float(job_all.gpu_seconds)),
        **_group(job_all, ver_all, models["project"].get(None, []), agents["project"].get(None, [])),
        scenes=[
            {
                "scene_id": scene_id,
                "code": code,
                **_group(
                    job_scene.get(scene_id),
                    ver_scene.get(scene_id),
                    models["scene"].get(scene_id, []),
                    agents["scene"].get(scene_id, []),
                ),
            }
            for scene_id, code in scenes
        ],
        shots=[
            {
                "shot_id": shot_id,
                "scene_id": scene_id,
                "code": code,
                **_group(
                    job_shot.get(shot_id),
                    ver_shot.get(shot_id),
                    models["shot"].get(shot_id, []),
                    agents["shot"].get(shot_id, []),
                ),
            }
            for shot_id, scene_id, code in shots
        ],
    )


def _roll_names(rows: dict[Any, list[str]]) -> dict[str, dict[Any, list[str]]]:
    """Distinct (shot, scene, name) rows (one per name and shot: few) into name lists per shot, scene and
    the whole project (under the key None)."""
    out: dict[str, dict[Any, set[str]]] = {"project": defaultdict(set), "scene": defaultdict(set), "shot": {}}
    for (shot_id, scene_id), names in rows.items():
        out["project"][None].update(names)
        if shot_id is not None:
            out["shot"][shot_id] = set(names)
            out["scene"][scene_id].update(names)
    return {level: {key: sorted(names) for key, names in found.items()} for level, found in out.items()}


def shot_costs(session: Session, shot_id: uuid.UUID) -> ShotCostsDetail:
    shot = session.get(Shot, shot_id)
    if shot is None:
        raise NotFound(f"No shot with id {shot_id}.", field="id")
    of_shot = Job.shot_id == shot_id
    job_all = session.execute(select(*_job_totals()).where(of_shot)).one()
    job_version = _keyed(
        session,
        select(Job.version_id, *_job_totals())
        .where(of_shot, Job.version_id.is_not(None))
        .group_by(Job.version_id),
    )
    ver_all = session.execute(select(*_version_counts()).where(Version.shot_id == shot_id)).one()
    models = _names(session, select(Job.version_id, Job.model).where(of_shot, Job.model.is_not(None)))
    agents = _names(
        session, select(Job.version_id, Agent.name).join(Agent, Agent.id == Job.agent_id).where(of_shot)
    )
    versions = session.execute(
        select(Version.id, Version.stage, Version.number)
        .where(Version.shot_id == shot_id)
        .order_by(Version.stage, Version.number)
    ).all()
    jobs = session.execute(
        select(
            Job.id,
            Job.type,
            Job.status,
            Job.version_id,
            Job.gpu_seconds,
            Job.attempts,
            Job.lease_losses,
            Job.model,
            Agent.name,
            Job.created_at,
            Job.finished_at,
        )
        .outerjoin(Agent, Agent.id == Job.agent_id)
        .where(of_shot)
        .order_by(Job.created_at.desc(), Job.id)
        .limit(JOB_LIMIT)
    ).all()
    return ShotCostsDetail(
        shot_id=shot_id,
        project_id=shot.project_id,
        code=shot.code,
        **_group(
            job_all,
            ver_all,
            sorted({name for names in models.values() for name in names}),
            sorted({name for names in agents.values() for name in names}),
        ),
        versions=[
            {
                "version_id": version_id,
                "stage": stage,
                "number": number,
                **_totals(job_version.get(version_id)),
                "models": models.get(version_id, []),
                "agents": agents.get(version_id, []),
            }
            for version_id, stage, number in versions
        ],
        jobs_list=[
            {
                "job_id": row[0],
                "type": row[1],
                "status": row[2],
                "version_id": row[3],
                "gpu_seconds": row[4],
                "attempts": row[5],
                "lease_losses": row[6],
                "model": row[7],
                "agent": row[8],
                "created_at": row[9],
                "finished_at": row[10],
            }
            for row in jobs
        ],
        job_limit=JOB_LIMIT,
    )


def set_budget(uow: UnitOfWork, project_id: uuid.UUID, body: BudgetIn) -> Budget:
    project = uow.session.get(Project, project_id)
    if project is None:
        raise NotFound(f"No project with id {project_id}.", field="id")
    before_hours, before_revision = project.gpu_budget_hours, project.revision
    budget = budget_of(body.gpu_budget_hours, used_seconds(uow.session, project_id))
    if before_hours != body.gpu_budget_hours:
        project.gpu_budget_hours = body.gpu_budget_hours
        project.gpu_budget_warned = level_of(budget)  # only a later crossing is pushed (budget.py)
        uow.session.flush()
        uow.record(
            "project.updated",
            "project",
            project.id,
            project_id=project.id,
            revision_before=before_revision,
            revision_after=project.revision,
            changes={"gpu_budget_hours": [before_hours, body.gpu_budget_hours]},
        )
    uow.commit()
    return budget
