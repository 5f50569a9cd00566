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

from sqlalchemy.orm import Session

from aipipe_shared.workflows import WorkflowTemplate

from ..context import UnitOfWork
from ..db.base import utcnow
from ..db.models import Project, Shot
from ..farm import catalog, job_rows, jobs
from ..farm.job_rows import SHAPELESS_ROLES
from ..farm.render import shot_job
from ..farm.schemas import JobSubmit
from ..prompts.service import prompt_for
from ..settings import Settings
from .inputs import newest_control, take_inputs
from .params import Seeds, take_params
from .schemas import TakeFields, TakeJobOut
from .templates import check_template, template_name


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

    @property
    def session(self) -> Session:
        return self.uow.session

    def infos(self) -> list[dict[str, Any]]:
        if self._infos is None:  # the agents' node catalogues, read once per request
            self._infos = jobs.agent_object_infos(self.session)
        return self._infos

    def template(self, body: TakeFields) -> WorkflowTemplate:
        """The take's template (read once per request), checked against this body."""
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
        template = self.template(body)
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
        submit = shot_job(template, params, shot.id, body.priority)
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
        self.planned.extend(made)
        return made

    def insert(self, project_codes: dict[uuid.UUID, str], *, full: bool = True) -> list[TakeJobOut]:
        """Insert every planned job with one statement, record their events with one more, commit (the
        events are announced once). `full`: answer with the jobs as the API shows them (else none)."""
        session, uow = self.session, self.uow
        job_rows.insert_jobs(session, self.planned)
        outs: list[TakeJobOut] = []
        events = []
        for row in self.planned:
            out, event = job_rows.created(uow, row, [], project_codes)
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
