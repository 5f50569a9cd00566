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
from ..db.models import Job, Project, Shot
from ..farm import catalog, jobs
from ..farm.render import shot_job
from ..farm.schemas import JobSubmit
from ..prompts.service import prompt_for
from ..settings import Settings
from .inputs import newest_control, take_inputs
from .params import Seeds, take_params
from .schemas import TakeFields, TakeJobOut
from .templates import check_template, template_name

JOBS = Job.__table__
# Roles whose values cannot make a graph invalid for ComfyUI (free text, and the seed in its range).
SHAPELESS_ROLES = ("positive", "negative", "instruction", "filename_prefix", "seed")


def _defaults() -> dict[str, Any]:
    """A new job row's column values as the model's defaults give them (fresh lists, ids, times)."""
    row: dict[str, Any] = {}
    for column in JOBS.columns:
        default = column.default
        if default is None:
            row[column.key] = None
        elif default.is_callable:
            row[column.key] = default.arg(None)  # type: ignore[attr-defined]
        else:
            row[column.key] = default.arg  # type: ignore[attr-defined]
    return row


def _with_values(graph: dict[str, Any], template: WorkflowTemplate, values: dict[str, Any]) -> dict[str, Any]:
    """A copy of a bound graph with other values for plain roles (texts, seed, input names): only the
    nodes they go to are copied."""
    out = dict(graph)
    for role, value in values.items():
        for node_id, input_name in template.meta.bindings.get(role) or []:  # type: ignore[call-overload]
            node = out[node_id]
            out[node_id] = {**node, "inputs": {**node["inputs"], input_name: value}}
    return out


def _shape(graph: dict[str, Any], template: WorkflowTemplate) -> str:
    plain = {k: {**v, "inputs": dict(v.get("inputs", {}))} for k, v in graph.items()}
    for role in SHAPELESS_ROLES:
        for node_id, input_name in template.meta.bindings.get(role) or []:  # type: ignore[call-overload]
            if node_id in plain:
                plain[node_id]["inputs"][input_name] = None
    return json.dumps(plain, sort_keys=True)


def _copy_jobs(session: Session, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL: the rows through COPY, each value through its column type's bind processor (JSON as
    text, times in UTC). An executemany is one INSERT per row in psycopg's pipeline; COPY of 800 jobs costs
    the database about a third less, and a multi-row INSERT .. VALUES cost it twice as much (measured)."""
    if not rows:
        return
    session.flush()  # what the unit added first (the raw COPY does not autoflush as session.execute does)
    columns = list(rows[0])
    dialect = session.get_bind().dialect
    processors = [JOBS.c[name].type._cached_bind_processor(dialect) for name in columns]
    names = ", ".join(f'"{name}"' for name in columns)
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor, cursor.copy(f"COPY jobs ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(
                [
                    row[name] if process is None or row[name] is None else process(row[name])
                    for name, process in zip(columns, processors, strict=True)
                ]
            )


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
        return {**values, "graph": _with_values(values["graph"], template, changed)}

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
            row = _defaults()
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
                    "graph": _with_values(values["graph"], template, {"seed": seed})
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
        if session.get_bind().dialect.name == "postgresql":
            _copy_jobs(session, self.planned)
        else:
            session.execute(insert(JOBS), self.planned)  # SQLite: one prepared statement, run per row
        outs: list[TakeJobOut] = []
        events = []
        for row in self.planned:
            code = project_codes.get(row["project_id"]) if row["project_id"] else None
            out = jobs.job_out_of(row, [], None, code)
            if full:
                outs.append(
                    TakeJobOut.model_validate(
                        {**out.model_dump(), "inputs": row["inputs"], "take": row["take"]}
                    )
                )
            events.append(
                uow.event(
                    "job.created",
                    "job",
                    row["id"],
                    project_id=row["project_id"],
                    revision_after=row["revision"],
                    data=out.model_dump(mode="json"),  # as every job.created carries
                )
            )
        uow.record_all(events)
        uow.commit()
        return outs
