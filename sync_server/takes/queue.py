"""Queueing takes: one farm job per candidate, bound like any job (jobs.bound_values) and inserted
together, with their `job.created` events recorded in one statement and announced once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from aipipe_shared.workflows import WorkflowTemplate

from ..context import UnitOfWork
from ..db.models import Job, Project, Shot
from ..farm import catalog, jobs
from ..farm.render import estimate, output_stage
from ..farm.schemas import JobSubmit
from ..prompts.service import prompt_for
from ..settings import Settings
from .inputs import newest_control, take_inputs
from .params import Seeds, take_params
from .schemas import TakeFields, TakeJobOut
from .templates import check_template, template_name


@dataclass
class TakeQueue:
    """The jobs of one request (one shot, or many), planned first and inserted at the end."""

    uow: UnitOfWork
    settings: Settings
    seeds: Seeds = field(default_factory=Seeds)
    planned: list[Job] = field(default_factory=list)
    _infos: list[dict[str, Any]] | None = None
    _templates: dict[str, WorkflowTemplate] = field(default_factory=dict)

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

    def plan(
        self,
        shot: Shot,
        project: Project,
        body: TakeFields,
        *,
        seeds: list[int] | None = None,
        origin: dict[str, Any] | None = None,
    ) -> list[Job]:
        """The shot's candidates as jobs (not inserted yet). `seeds`: exactly these; `origin`: recorded in
        the take (e.g. the take a redo repeats)."""
        session = self.session
        template = self.template(body)
        control_id = None
        if body.control is not None:
            control_id = body.control.version_id or newest_control(session, shot, body.control.kind)
        inputs = take_inputs(session, shot, template, body, control_id)
        prompt = prompt_for(session, shot, template)
        if seeds is None:
            seeds = self.seeds.for_candidates(body.seed, body.seeds, body.candidates)
        record = body.model_dump(mode="json")
        if body.control is not None:
            record["control"]["version_id"] = str(control_id)
        made: list[Job] = []
        for index, seed in enumerate(seeds):
            params = take_params(session, shot, project, template, body, inputs, seed, prompt)
            submit = JobSubmit(
                type=template.meta.job_type,  # type: ignore[arg-type]
                workflow=template.name,
                params=params,
                priority=body.priority,
                shot_id=shot.id,
                output_stage=output_stage(template),
                estimate_s=estimate(template, params),
            )
            values = jobs.bound_values(
                session, self.settings, submit, inputs.items, tpl=template, infos=self.infos()
            )
            take = {
                **record,
                "template": template.name,
                "candidate": index + 1,
                "seed_used": seed,
                "input_version_ids": inputs.version_ids,
                **(origin or {}),
            }
            made.append(
                Job(
                    id=uuid.uuid4(),
                    project_id=shot.project_id,
                    shot_id=shot.id,
                    output_stage=submit.output_stage,
                    type=submit.type,
                    priority=submit.priority,
                    workflow=template.name,
                    params=params,
                    inputs=inputs.items,
                    estimate_s=submit.estimate_s or 60.0,
                    created_by=self.uow.actor.name,
                    take=take,
                    **values,
                )
            )
        self.planned.extend(made)
        return made

    def insert(self, project_codes: dict[uuid.UUID, str]) -> list[TakeJobOut]:
        """Insert every planned job, record their events in one statement, commit (announced once)."""
        session, uow = self.session, self.uow
        session.add_all(self.planned)
        session.flush()
        columns = [c.key for c in Job.__table__.columns]
        outs = []
        events = []
        for job in self.planned:
            row = {key: getattr(job, key) for key in columns}
            code = project_codes.get(job.project_id) if job.project_id else None
            out = TakeJobOut.model_validate(
                {**row, "depends_on": [], "agent_name": None, "project_code": code}
            )
            outs.append(out)
            data = jobs.job_out_of(row, [], None, code).model_dump(mode="json")  # as every job.created
            events.append(
                uow.event(
                    "job.created",
                    "job",
                    job.id,
                    project_id=job.project_id,
                    revision_after=job.revision,
                    data=data,
                )
            )
        uow.record_all(events)
        uow.commit()
        return outs
