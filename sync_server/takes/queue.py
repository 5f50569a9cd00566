"""Queueing takes: one farm job per candidate, bound like any job (jobs.bound_values) and inserted
together with one statement, their `job.created` events recorded in one statement and announced once.

The candidates of one shot differ only in their seed: the graph is bound once per shot and each candidate
gets a copy with its seed. A graph is checked against the agents' node catalogues once per shape (the
graph without its texts and seed): a batch whose shots share their LoRAs is checked once.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from aipipe_shared.workflows import WorkflowTemplate

from ..context import UnitOfWork
from ..db.base import utcnow
from ..db.models import JobDependency, Project, Shot
from ..db.models_recipes import RenderRecipe
from ..errors import ApiError, Unprocessable
from ..farm import catalog, job_rows, jobs
from ..farm.job_rows import SHAPELESS_ROLES
from ..farm.render import shot_job
from ..farm.schemas import JobSubmit
from ..prompts.service import prompt_for
from ..recipes import service as recipes
from ..recipes.queue import RecipeQueue
from ..recipes.service import PlannedStep
from ..settings import Settings
from .inputs import newest_control, take_inputs
from .params import Seeds, take_params
from .schemas import TakeFields, TakeJobOut
from .templates import check_template, template_name

DEPENDENCIES = JobDependency.__table__
# What the chain's following steps get from the take when they have the role and do not set it.
CARRIED_ROLES = ("positive", "negative", "seed")


def _shape(graph: dict[str, Any], template: WorkflowTemplate) -> str:
    plain = {k: {**v, "inputs": dict(v.get("inputs", {}))} for k, v in graph.items()}
    for role in SHAPELESS_ROLES:
        for node_id, input_name in template.meta.bindings.get(role) or []:  # type: ignore[call-overload]
            if node_id in plain:
                plain[node_id]["inputs"][input_name] = None
    return json.dumps(plain, sort_keys=True)


@dataclass
class TakeQueue:
    """The jobs of one request (one shot, or many), planned first and inserted at the end."""

    uow: UnitOfWork
    settings: Settings
    seeds: Seeds = field(default_factory=Seeds)
    planned: list[dict[str, Any]] = field(default_factory=list)
    _infos: list[dict[str, Any]] | None = None
    _templates: dict[str, WorkflowTemplate] = field(default_factory=dict)
    _checked: set[str] = field(default_factory=set)
    _bound: dict[str, tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=dict)
    characters: dict[uuid.UUID, Any] | None = None  # the project's, when many shots are planned
    _recipes: dict[tuple[str, int | None], tuple[RenderRecipe, list[PlannedStep]]] = field(
        default_factory=dict
    )
    _chains: RecipeQueue | None = None

    @property
    def session(self) -> Session:
        return self.uow.session

    def infos(self) -> list[dict[str, Any]]:
        if self._infos is None:  # the agents' node catalogues, read once per request
            self._infos = jobs.agent_object_infos(self.session)
        return self._infos

    @property
    def chains(self) -> RecipeQueue:
        """The jobs following the takes' first steps when the takes are made with a recipe."""
        if self._chains is None:
            self._chains = RecipeQueue(self.uow, self.settings, characters=self.characters)
        return self._chains

    def recipe(self, project: Project, body: TakeFields) -> tuple[RenderRecipe, list[PlannedStep]] | None:
        """The recipe the takes are made with (looked up and checked once per request), or None. A take's
        chain starts with an image-making step that takes no input (t2i) and makes images to its end;
        refusals name `recipe`."""
        if not body.recipe:
            return None
        if body.workflow:
            raise Unprocessable("give a workflow or a recipe, not both", field="recipe")
        key = (body.recipe, body.recipe_version)
        if key not in self._recipes:
            found = recipes.find(self.session, project.id, body.recipe, body.recipe_version, field="recipe")
            named = f"recipe '{found.name}' v{found.version}"
            try:
                steps = self.chains.steps(found)
            except ApiError as exc:
                raise Unprocessable(f"{named} cannot run today: {exc.detail}", field="recipe") from exc
            first = steps[0]
            if first.template is None or first.input_kind is not None or first.output_kind != "image":
                what = first.step.workflow or first.step.job_type
                takes = f"takes {'an' if first.input_kind == 'image' else 'a'} {first.input_kind}"
                raise Unprocessable(
                    f"{named} starts with '{what}' ({first.job_type}), which "
                    f"{takes if first.input_kind else 'makes ' + first.output_kind}: a take's recipe starts "
                    "with a text-to-image step that takes no input",
                    field="recipe",
                )
            video = next((p for p in steps if p.output_kind != "image"), None)
            if video is not None:
                raise Unprocessable(
                    f"{named}: step {video.index + 1} makes a {video.output_kind}; a take is an image, so "
                    "every step of its recipe makes an image",
                    field="recipe",
                )
            self._recipes[key] = (found, steps)
        return self._recipes[key]

    def template(self, body: TakeFields, first: PlannedStep | None = None) -> WorkflowTemplate:
        """The take's template (read once per request), checked against this body; with a recipe, its
        first step's."""
        if first is not None:
            assert first.template is not None
            check_template(first.template, body, "recipe")
            return first.template
        name, chosen_by = template_name(body)
        if name not in self._templates:
            self._templates[name] = catalog.template(self.settings, name, field=chosen_by)
        check_template(self._templates[name], body, chosen_by)
        return self._templates[name]

    def _check_against_agents(self, graph: dict[str, Any], template: WorkflowTemplate) -> None:
        infos = self.infos()
        if not infos:
            return
        shape = _shape(graph, template)
        if shape not in self._checked:
            jobs.check_graph(infos, graph, template)
            self._checked.add(shape)

    def _bind(
        self, submit: JobSubmit, items: list[dict[str, Any]], template: WorkflowTemplate
    ) -> dict[str, Any]:
        """The job's bound graph, model and VRAM (jobs.bound_values). Shots whose parameters differ only in
        plain roles (texts, seed; the LoRAs, sizes and inputs the same) share one binding, patched; each
        graph shape is checked against the agents' node catalogues once."""
        params = submit.params
        plain = {role: params[role] for role in SHAPELESS_ROLES if role in params}
        key = json.dumps(
            [{k: v for k, v in params.items() if k not in plain}, [i["name"] for i in items]],
            sort_keys=True,
            default=str,
        )
        if key not in self._bound:
            values = jobs.bound_values(self.session, self.settings, submit, items, tpl=template, infos=[])
            self._check_against_agents(values["graph"], template)
            self._bound[key] = (values, plain)
            return values
        values, bound_plain = self._bound[key]
        changed = {role: value for role, value in plain.items() if bound_plain.get(role) != value}
        return {**values, "graph": job_rows.with_values(values["graph"], template, changed)}

    def plan(
        self,
        shot: Shot,
        project: Project,
        body: TakeFields,
        *,
        seeds: list[int] | None = None,
        origin: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """The shot's candidates as job rows (not inserted yet). `seeds`: exactly these; `origin`: recorded
        in the take (e.g. the take a redo repeats)."""
        session = self.session
        chain = self.recipe(project, body)
        first_step = chain[1][0] if chain else None
        template = self.template(body, first_step)
        control_id = None
        if body.control is not None:
            control_id = body.control.version_id or newest_control(session, shot, body.control.kind)
        inputs = take_inputs(session, shot, template, body, control_id)
        prompt = prompt_for(session, shot, template, self.characters)
        if seeds is None:
            seeds = self.seeds.for_candidates(body.seed, body.seeds, body.candidates)
        record = body.model_dump(mode="json")
        if body.control is not None:
            record["control"]["version_id"] = str(control_id)
        params = take_params(session, shot, project, template, body, inputs, seeds[0], prompt)
        if first_step is not None:  # the recipe's values, under the request's own
            mine = {"seed", *body.params}
            mine |= {"positive"} if body.prompt is not None else set()
            mine |= {"negative"} if body.negative is not None else set()
            params.update({k: v for k, v in first_step.step.params.items() if k not in mine})
        submit = shot_job(template, params, shot.id, body.priority)
        if first_step is not None:
            submit = submit.model_copy(update={"output_stage": first_step.output_stage})
        values = self._bind(submit, inputs.items, template)
        now = utcnow()
        made = []
        for index, seed in enumerate(seeds):
            seeded = {**params, "seed": seed} if "seed" in params else params
            take = {
                **record,
                "template": template.name,
                "candidate": index + 1,
                "seed_used": seed if "seed" in params else None,
                "input_version_ids": inputs.version_ids,
                **(origin or {}),
            }
            row = job_rows.default_row()
            if chain is not None:
                row["recipe_id"] = chain[0].id
                take["provenance"] = self._chain_provenance(chain, None, 0, take)
            row.update(
                id=uuid.uuid4(),
                project_id=shot.project_id,
                shot_id=shot.id,
                output_stage=submit.output_stage,
                type=submit.type,
                priority=submit.priority,
                workflow=template.name,
                params=seeded,
                inputs=inputs.items,
                estimate_s=submit.estimate_s or 60.0,
                created_by=self.uow.actor.name,
                created_at=now,
                updated_at=now,
                take=take,
                **{
                    **values,
                    "graph": job_rows.with_values(values["graph"], template, {"seed": seed})
                    if index
                    else values["graph"],
                },
            )
            made.append(row)
            if chain is not None:
                self._plan_chain(shot, project, chain, row, take, params, seed, body.priority)
        self.planned.extend(made)
        return made

    @staticmethod
    def _chain_provenance(
        chain: tuple[RenderRecipe, list[PlannedStep]],
        parent: dict[str, Any] | None,
        index: int,
        take: dict[str, Any],
    ) -> dict[str, Any]:
        """What a chain job's version records at the top of its provenance: the recipe, version and step
        (docs/api.md, "Takes"), its parent job, and whether it is the take (the last step) or a step
        on the way to it."""
        recipe, steps = chain
        return {
            "recipe": {
                "id": str(recipe.id),
                "name": recipe.name,
                "version": recipe.version,
                "step": index,
                "steps": len(steps),
                "label": steps[index].step.label,
            },
            "parent_job_id": str(parent["id"]) if parent is not None else None,
            "take_role": "take" if index == len(steps) - 1 else "step",
            "take_candidate": take["candidate"],
        }

    def _plan_chain(
        self,
        shot: Shot,
        project: Project,
        chain: tuple[RenderRecipe, list[PlannedStep]],
        first: dict[str, Any],
        take: dict[str, Any],
        params: dict[str, Any],
        seed: int,
        priority: int,
    ) -> None:
        """The candidate's following steps as recipe children of its first job: each takes its parent's
        image at claim (recipes/resolve.py); the take's prompt and seed go to the roles they have."""
        recipe, steps = chain
        carried = {role: params[role] for role in CARRIED_ROLES if role in params}
        if "seed" in carried:
            carried["seed"] = seed
        first_id = str(first["id"])

        def take_of(planned: PlannedStep, last: bool) -> dict[str, Any]:
            made = {"take_role": "take" if last else "step", "take_candidate": take["candidate"]}
            provenance = {**made, "take_first_job_id": first_id}
            if last:  # the take: what a redo repeats, as a take made in one step records it
                return {**take, "provenance": provenance}
            return {"provenance": provenance}

        self.chains.priority = priority
        self.chains.plan(shot, project, recipe, None, first=first, carried=carried, take_of=take_of)

    def chain_of(self) -> dict[uuid.UUID, list[uuid.UUID]]:
        """Each planned take's jobs in step order, by its first job's id (with a recipe)."""
        child = {d["parent_id"]: d["job_id"] for d in (self._chains.dependencies if self._chains else [])}
        chains: dict[uuid.UUID, list[uuid.UUID]] = {}
        for row in self.planned:
            ids = [row["id"]]
            while ids[-1] in child:
                ids.append(child[ids[-1]])
            chains[row["id"]] = ids if len(ids) > 1 else []
        return chains

    def insert(self, project_codes: dict[uuid.UUID, str], *, full: bool = True) -> list[TakeJobOut]:
        """Insert every planned job with one statement, record their events with one more, commit (the
        events are announced once). `full`: answer with the jobs as the API shows them (else none)."""
        session, uow = self.session, self.uow
        chained = self._chains.rows if self._chains is not None else []
        dependencies = self._chains.dependencies if self._chains is not None else []
        job_rows.insert_jobs(session, [*self.planned, *chained])
        if dependencies:
            session.execute(insert(DEPENDENCIES), dependencies)
        parents = {d["job_id"]: [d["parent_id"]] for d in dependencies}
        outs: list[TakeJobOut] = []
        events = []
        for row in [*self.planned, *chained]:
            out, event = job_rows.created(uow, row, parents.get(row["id"], []), project_codes)
            if full:
                outs.append(
                    TakeJobOut.model_validate(
                        {**out.model_dump(), "inputs": row["inputs"], "take": row["take"]}
                    )
                )
            events.append(event)
        uow.record_all(events)
        uow.commit()
        return outs
