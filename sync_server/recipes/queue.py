"""A recipe submitted for shots becomes a job DAG per shot: the first step is the shot's render (bound as
`POST /api/shots/{id}/render` binds it: first frame, prompt, seed, size, length), each next step a job
depending on the one before. A child's input is its parent's output, which does not exist yet: the job
records where it comes from (`take["parent_input"]`) and the claim fills in the parent's published file
(`resolve.py`). Every job of a request is planned first and inserted at the end, with one statement for
the jobs, one for their dependencies and one for their events (like the take queue).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from aipipe_shared.workflows import WorkflowTemplate, role_targets

from ..context import UnitOfWork
from ..db.base import utcnow
from ..db.models import Character, JobDependency, Project, Shot, Version, VersionFile
from ..db.models_recipes import RenderRecipe
from ..farm import catalog, job_rows, jobs
from ..farm.job_rows import SHAPELESS_ROLES
from ..farm.render import default_seed, estimate, shot_params, version_input
from ..farm.schemas import JobSubmit
from ..prompts.service import prompt_for
from ..settings import Settings
from .schemas import RecipeStep
from .service import PlannedStep, plan_steps

DEPENDENCIES = JobDependency.__table__
FALLBACK_FPS = 24.0  # a parent whose rate its template does not say (bound for real at claim)
EXTENSION = {"video": "mp4", "image": "png"}
FILE_ROLES = ("image", "video")  # a step's input names: bound like texts (patched into a shared binding)


def _default(template: WorkflowTemplate, role: str) -> Any:
    targets = template.meta.bindings.get(role) or []  # type: ignore[call-overload]
    if not targets:
        return None
    node, name = targets[0]
    return template.graph[node]["inputs"].get(name)


def fps_factor(step: RecipeStep, template: WorkflowTemplate | None) -> float | None:
    """What the parent's fps is multiplied by for this step's fps: the step's `fps_factor`, else, for a
    template binding both `fps` and `factor` (RIFE), its frame factor (the step's or the template's)."""
    if step.fps_factor is not None or template is None:
        return step.fps_factor
    if {"fps", "factor"} <= template.roles:
        value = step.params.get("factor", _default(template, "factor"))
        return float(value) if isinstance(value, int | float) and value > 0 else None
    return None


@dataclass
class RecipeQueue:
    """The jobs of one request (one shot, or many), planned first and inserted at the end."""

    uow: UnitOfWork
    settings: Settings
    priority: int = 50
    rows: list[dict[str, Any]] = field(default_factory=list)
    dependencies: list[dict[str, Any]] = field(default_factory=list)
    characters: dict[uuid.UUID, Character] | None = None  # the project's, when many shots are planned
    _catalog: Any = None
    _plans: dict[uuid.UUID, list[PlannedStep]] = field(default_factory=dict)
    _infos: list[dict[str, Any]] | None = None
    _checked: set[str] = field(default_factory=set)
    _bindings: dict[str, tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=dict)
    _row: dict[str, Any] | None = None

    @property
    def session(self) -> Session:
        return self.uow.session

    def steps(self, recipe: RenderRecipe) -> list[PlannedStep]:
        """The recipe's steps checked against today's catalogue (once per recipe version and request)."""
        if recipe.id not in self._plans:
            if self._catalog is None:
                self._catalog = catalog.catalog(self.settings)
            steps = [RecipeStep.model_validate(s) for s in recipe.steps]
            self._plans[recipe.id] = plan_steps(steps, self._catalog)
        return self._plans[recipe.id]

    def _bound(self, submit: JobSubmit, inputs: list[dict[str, Any]], template: WorkflowTemplate) -> Any:
        """jobs.bound_values, once per graph shape: shots whose parameters differ only in plain roles
        (texts, seed, input file names) share one binding, patched, and each shape is checked against the
        agents' node catalogues once."""
        if self._infos is None:
            self._infos = jobs.agent_object_infos(self.session)
        params = submit.params
        plain = {r: params[r] for r in (*SHAPELESS_ROLES, *FILE_ROLES) if r in params}
        for item in inputs:
            plain[item["role"]] = item["name"]
        key = json.dumps(
            [template.name, {k: v for k, v in params.items() if k not in plain}], sort_keys=True, default=str
        )
        if key not in self._bindings:
            values = jobs.bound_values(self.session, self.settings, submit, inputs, tpl=template, infos=[])
            if self._infos:
                jobs.check_graph(self._infos, values["graph"], template)
            self._bindings[key] = (values, plain)
            return values
        values, bound_plain = self._bindings[key]
        changed = {role: value for role, value in plain.items() if bound_plain.get(role) != value}
        return {**values, "graph": job_rows.with_values(values["graph"], template, changed)}

    def _new_row(self) -> dict[str, Any]:
        """A job row with the model's defaults (computed once per request; the lists are not mutated)."""
        if self._row is None:
            self._row = job_rows.default_row()
        return dict(self._row)

    def plan(
        self,
        shot: Shot,
        project: Project,
        recipe: RenderRecipe,
        first_frame: tuple[Version, VersionFile] | None,
        *,
        seed: int | None = None,
        first: dict[str, Any] | None = None,
        carried: dict[str, Any] | None = None,
        take_of: Callable[[PlannedStep, bool], dict[str, Any]] | None = None,
    ) -> list[uuid.UUID]:
        """The shot's jobs, one per step (not inserted yet); their ids in step order. Raises the API error
        of a step that cannot be bound (nothing of this shot is kept then).

        A take's chain (takes/queue.py) passes `first`, its first step's row planned as a take (not kept
        here), `carried`, values for the roles a following step has and does not set itself (the take's
        prompt and seed), and `take_of(step, last)`, what the step's job records of the take."""
        session = self.session
        steps = self.steps(recipe)
        now = utcnow()
        rows: list[dict[str, Any]] = []
        dependencies: list[dict[str, Any]] = []
        parent: dict[str, Any] | None = first
        parent_fps: float | None = None
        for planned in steps if first is None else steps[1:]:
            step = planned.step
            template = planned.template
            inputs: list[dict[str, Any]] = []
            parent_input: dict[str, Any] | None = None
            if parent is None:
                assert template is not None
                if "image" in template.roles and first_frame is not None:
                    version, file = first_frame
                    ext = file.name.rsplit(".", 1)[-1]
                    name = f"{shot.code}_first_frame_v{version.number:03d}.{ext}"
                    inputs.append(
                        version_input("image", name, version, file, role_targets(template, "image"))
                    )
                prompt = prompt_for(session, shot, template, self.characters)
                params = {
                    **shot_params(
                        session,
                        shot,
                        project,
                        template,
                        seed=seed if seed is not None else default_seed(shot),
                        prompt=prompt,
                    ),
                    **step.params,
                }
                fps = params.get("fps", _default(template, "fps"))
                parent_fps = float(fps) if isinstance(fps, int | float) and fps > 0 else None
            else:
                kind = planned.input_kind or "video"
                name = f"{shot.code}_{parent['output_stage']}_input.{EXTENSION[kind]}"
                factor = fps_factor(step, template)
                parent_input = {"job_id": str(parent["id"]), "role": kind, "fps_factor": factor}
                if template is None:  # a CPU step: ffmpeg reads the parent's file from params.input_url
                    params = {
                        "args": list(step.params.get("args", [])),
                        "output_name": step.params.get("output_name")
                        or f"{shot.code}_{planned.output_stage}.mp4",
                        "input_url": "",
                    }
                else:
                    kept = {r: v for r, v in (carried or {}).items() if r in template.roles}
                    params = {**kept, **step.params, kind: name}
                    inputs.append(
                        {"role": kind, "name": name, "url": "", "targets": role_targets(template, kind)}
                    )
                    if factor is not None:
                        guess = (parent_fps or FALLBACK_FPS) * factor
                        params["fps"] = round(guess, 3)  # the parent's real rate x factor at claim
                        parent_input["fps_targets"] = role_targets(template, "fps")
                if template is not None:
                    fps = params.get("fps", _default(template, "fps"))
                    parent_fps = float(fps) if isinstance(fps, int | float) and fps > 0 else parent_fps
            submit = JobSubmit(
                type=planned.job_type,  # type: ignore[arg-type]
                workflow=template.name if template is not None else None,
                params=params,
                priority=self.priority,
                shot_id=shot.id,
                output_stage=planned.output_stage,
                estimate_s=estimate(template, params) if template is not None else 30.0,
            )
            values = self._bound(submit, inputs, template) if template is not None else {}
            job_id = uuid.uuid4()
            row = self._new_row()
            provenance = {
                "recipe": {
                    "id": str(recipe.id),
                    "name": recipe.name,
                    "version": recipe.version,
                    "step": planned.index,
                    "steps": len(steps),
                    "label": step.label,
                },
                "parent_job_id": str(parent["id"]) if parent is not None else None,
            }
            take: dict[str, Any] = {"provenance": provenance}
            if take_of is not None:
                made = take_of(planned, planned is steps[-1])
                take = {**made, "provenance": {**provenance, **made.get("provenance", {})}}
            if parent_input is not None:
                take["parent_input"] = parent_input
            row.update(
                id=job_id,
                project_id=shot.project_id,
                shot_id=shot.id,
                output_stage=planned.output_stage,
                type=planned.job_type,
                priority=self.priority,
                workflow=submit.workflow,
                params=params,
                inputs=inputs,
                estimate_s=submit.estimate_s or 60.0,
                created_by=self.uow.actor.name,
                created_at=now,
                updated_at=now,
                take=take,
                recipe_id=recipe.id,
                **values,
            )
            rows.append(row)
            if parent is not None:
                dependencies.append({"job_id": job_id, "parent_id": parent["id"]})
            parent = row
        self.rows.extend(rows)
        self.dependencies.extend(dependencies)
        return [row["id"] for row in rows]

    def insert(self, project_codes: dict[uuid.UUID, str]) -> None:
        """Insert every planned job (one statement), their dependencies (one more), record their events
        (one more) and commit; the events are announced once."""
        session, uow = self.session, self.uow
        if self.rows:
            job_rows.insert_jobs(session, self.rows)
        if self.dependencies:
            session.execute(insert(DEPENDENCIES), self.dependencies)
        parents = {d["job_id"]: [d["parent_id"]] for d in self.dependencies}
        events = [
            job_rows.created(uow, row, parents.get(row["id"], []), project_codes)[1] for row in self.rows
        ]
        uow.record_all(events)
        uow.commit()
