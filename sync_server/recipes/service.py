"""Recipes: create, list, read, new versions (the old ones kept, never edited), delete while unused; each
version checked against the template catalogue when it is saved (422 naming `steps[i].<field>`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, exists, func, select
from sqlalchemy.orm import Session

from aipipe_shared.workflows import (
    INPUT_FILE_ROLES,
    SLOTTED_INPUT_ROLES,
    TemplateBindError,
    TemplateCatalog,
    WorkflowTemplate,
    bind,
    check_params,
)

from ..context import UnitOfWork
from ..crud import get_or_404
from ..db.models import Job, Project, Shot
from ..db.models_recipes import RenderRecipe
from ..errors import ApiError, Conflict, NotFound, Unprocessable
from ..farm import catalog
from ..settings import Settings
from .schemas import RecipeBody, RecipeCreate, RecipeList, RecipeOut, RecipeStep, RecipeStepOut

# The stage a step's result is published as, by its job type, unless the step names one.
STAGE_OF_JOB_TYPE = {
    "i2v": "render",
    "interpolate": "interp",
    "upscale": "upscale",
    "transcode": "final",
    "t2i": "previz",
    "i2i": "previz",
    "image_edit": "previz",
    "inpaint": "previz",
    "depth": "control",
}
CPU_STEP_TYPES = frozenset({"transcode"})


@dataclass(frozen=True)
class PlannedStep:
    """A saved step with what the catalogue says about it (what a submit binds)."""

    index: int
    step: RecipeStep
    template: WorkflowTemplate | None  # None: a CPU step
    job_type: str
    output_stage: str
    input_kind: str | None  # image | video | None
    output_kind: str


def input_kind(template: WorkflowTemplate) -> str | None:
    """What a template takes from the step before it: a video, an image, or nothing."""
    if "video" in template.roles:
        return "video"
    if "image" in template.roles:
        return "image"
    return None


def plan_steps(steps: Iterable[RecipeStep], templates: TemplateCatalog) -> list[PlannedStep]:
    """Check a recipe's steps against the catalogue: known templates, each step taking what the one before
    it makes. Raises 422 naming `steps[i].<field>`."""
    planned: list[PlannedStep] = []
    for index, step in enumerate(steps):
        where = f"steps[{index}]"
        previous = planned[-1] if planned else None
        if (step.workflow is None) == (step.job_type is None):
            raise Unprocessable(
                f"Step {index + 1} needs either a workflow or a CPU job_type (one of them).",
                field=f"{where}.workflow",
            )
        if step.job_type is not None:
            if previous is None:
                raise Unprocessable(
                    "The first step renders the shot: it needs a workflow, not a CPU job.",
                    field=f"{where}.job_type",
                )
            if previous.output_kind != "video":
                raise Unprocessable(
                    f"Step {index + 1} ({step.job_type}) encodes a video, but step {index} makes an "
                    f"{previous.output_kind}.",
                    field=f"{where}.job_type",
                )
            if step.fps_factor is not None:
                raise Unprocessable("A CPU step binds no fps.", field=f"{where}.fps_factor")
            args = step.params.get("args", [])
            if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
                raise Unprocessable(
                    "params.args: a list of ffmpeg arguments (strings).", field=f"{where}.params"
                )
            unknown = sorted(set(step.params) - {"args", "output_name"})
            if unknown:
                raise Unprocessable(
                    f"A {step.job_type} step takes params args and output_name, not {unknown}.",
                    field=f"{where}.params",
                )
            stage = step.output_stage or STAGE_OF_JOB_TYPE[step.job_type]
            planned.append(PlannedStep(index, step, None, step.job_type, stage, "video", "video"))
            continue
        assert step.workflow is not None
        template = templates.templates.get(step.workflow)
        if template is None:
            broken = [str(p) for p in templates.problems if step.workflow in str(p)]
            raise Unprocessable(
                f"workflow '{step.workflow}' is broken: {'; '.join(broken)}"
                if broken
                else f"no workflow named '{step.workflow}'; known: {', '.join(sorted(templates.templates))}",
                field=f"{where}.workflow",
            )
        takes = input_kind(template)
        if previous is None:
            if takes == "video":
                raise Unprocessable(
                    f"The first step renders the shot from its first frame; workflow '{template.name}' "
                    "takes a video.",
                    field=f"{where}.workflow",
                )
        elif takes != previous.output_kind:
            raise Unprocessable(
                f"Step {index + 1}: workflow '{template.name}' takes "
                f"{'no input' if takes is None else 'an ' + takes if takes == 'image' else 'a ' + takes}, "
                f"but step {index} makes a{'n' if previous.output_kind == 'image' else ''} "
                f"{previous.output_kind}.",
                field=f"{where}.workflow",
            )
        if step.fps_factor is not None and "fps" not in template.roles:
            raise Unprocessable(
                f"workflow '{template.name}' binds no fps (it keeps its source's rate).",
                field=f"{where}.fps_factor",
            )
        if step.fps_factor is not None and previous is None:
            raise Unprocessable("The first step has no source fps to multiply.", field=f"{where}.fps_factor")
        placeholders = {
            role: "placeholder"
            for role in INPUT_FILE_ROLES
            if role in template.roles and role not in SLOTTED_INPUT_ROLES
        }
        try:
            graph = bind(template, {**step.params, **placeholders})
        except TemplateBindError as exc:
            raise Unprocessable(str(exc), field=f"{where}.params") from exc
        refused = [(role, why) for role, why in check_params(template, graph) if role in step.params]
        if refused:  # a value no agent could run (the template's rules), e.g. RIFE's factor 1..8
            raise Unprocessable(
                f"workflow '{template.name}': {refused[0][1]}",
                errors=[{"field": f"{where}.params.{role}", "message": why} for role, why in refused],
            )
        stage = step.output_stage or STAGE_OF_JOB_TYPE.get(template.meta.job_type, "render")
        planned.append(
            PlannedStep(index, step, template, template.meta.job_type, stage, takes, template.meta.media_kind)
        )
    return planned


def _steps_of(recipe: RenderRecipe) -> list[RecipeStep]:
    return [RecipeStep.model_validate(s) for s in recipe.steps]


def recipe_out(session: Session, recipe: RenderRecipe, templates: TemplateCatalog | None) -> RecipeOut:
    versions = list(
        session.scalars(
            select(RenderRecipe.version)
            .where(RenderRecipe.project_id == recipe.project_id, RenderRecipe.name == recipe.name)
            .order_by(RenderRecipe.version)
        )
    )
    return RecipeOut(
        id=recipe.id,
        project_id=recipe.project_id,
        name=recipe.name,
        version=recipe.version,
        versions=versions,
        description=recipe.description,
        steps=_steps_out(recipe, templates),
        used=_used(session, recipe.project_id, [recipe.name]).get(recipe.name, False),
        created_by=recipe.created_by,
        created_at=recipe.created_at,
    )


def _steps_out(recipe: RenderRecipe, templates: TemplateCatalog | None) -> list[RecipeStepOut]:
    """The steps as saved, with their kinds and stages; when a template has left the catalogue since, the
    kinds the step was saved with are unknown (None / the stage it names)."""
    steps = _steps_of(recipe)
    planned: list[PlannedStep] | None = None
    if templates is not None:
        try:
            planned = plan_steps(steps, templates)
        except ApiError:
            planned = None
    out = []
    for index, step in enumerate(steps):
        p = planned[index] if planned else None
        out.append(
            RecipeStepOut(
                label=step.label,
                workflow=step.workflow,
                job_type=p.job_type if p else (step.job_type or ""),
                params=step.params,
                output_stage=p.output_stage if p else (step.output_stage or ""),
                fps_factor=step.fps_factor,
                input_kind=p.input_kind if p else None,
                output_kind=p.output_kind if p else "",
            )
        )
    return out


def _used(session: Session, project_id: uuid.UUID, names: list[str]) -> dict[str, bool]:
    """Which of the recipes (by name) some job names."""
    if not names:
        return {}
    rows = session.execute(
        select(RenderRecipe.name)
        .where(
            RenderRecipe.project_id == project_id,
            RenderRecipe.name.in_(names),
            exists(select(Job.id).where(Job.recipe_id == RenderRecipe.id)),
        )
        .distinct()
    )
    used = {name for (name,) in rows}
    return {name: name in used for name in names}


def find(
    session: Session, project_id: uuid.UUID, name: str, version: int | None = None, field: str = "name"
) -> RenderRecipe:
    """The recipe's given version, else its newest; 404 naming `field`."""
    stmt = select(RenderRecipe).where(RenderRecipe.project_id == project_id, RenderRecipe.name == name)
    if version is not None:
        stmt = stmt.where(RenderRecipe.version == version)
    recipe = session.scalars(stmt.order_by(RenderRecipe.version.desc()).limit(1)).first()
    if recipe is None:
        what = f"version {version} of recipe '{name}'" if version is not None else f"recipe '{name}'"
        raise NotFound(f"This project has no {what}.", field=field)
    return recipe


def _save(uow: UnitOfWork, settings: Settings, project: Project, name: str, body: RecipeBody) -> RecipeOut:
    session = uow.session
    templates = catalog.catalog(settings)
    plan_steps(body.steps, templates)
    newest = session.scalar(
        select(func.max(RenderRecipe.version)).where(
            RenderRecipe.project_id == project.id, RenderRecipe.name == name
        )
    )
    recipe = RenderRecipe(
        project_id=project.id,
        name=name,
        version=(newest or 0) + 1,
        description=body.description,
        steps=[s.model_dump(mode="json", exclude_none=False) for s in body.steps],
        created_by=uow.actor.name,
    )
    session.add(recipe)
    session.flush()
    out = recipe_out(session, recipe, templates)
    uow.record(
        "recipe.created",
        "recipe",
        recipe.id,
        project_id=project.id,
        revision_after=recipe.version,
        data=out.model_dump(mode="json"),
    )
    uow.commit()
    return out


def create(uow: UnitOfWork, settings: Settings, project_id: uuid.UUID, body: RecipeCreate) -> RecipeOut:
    project = get_or_404(uow.session, Project, project_id, "project")
    taken = uow.session.scalar(
        select(func.count())
        .select_from(RenderRecipe)
        .where(RenderRecipe.project_id == project.id, RenderRecipe.name == body.name)
    )
    if taken:
        raise Conflict(
            f"Recipe '{body.name}' exists: PUT /api/projects/{project.id}/recipes/{body.name} saves a new "
            "version of it.",
            field="name",
        )
    return _save(uow, settings, project, body.name, body)


def new_version(
    uow: UnitOfWork, settings: Settings, project_id: uuid.UUID, name: str, body: RecipeBody
) -> RecipeOut:
    """Save the steps as the recipe's next version (version 1 of a new recipe); older versions stay."""
    project = get_or_404(uow.session, Project, project_id, "project")
    return _save(uow, settings, project, name, body)


def list_recipes(session: Session, settings: Settings, project_id: uuid.UUID) -> RecipeList:
    get_or_404(session, Project, project_id, "project")
    recipes = list(
        session.scalars(
            select(RenderRecipe)
            .where(RenderRecipe.project_id == project_id)
            .order_by(RenderRecipe.name, RenderRecipe.version)
        )
    )
    templates = catalog.catalog(settings)
    versions: dict[str, list[int]] = {}
    newest: dict[str, RenderRecipe] = {}
    for recipe in recipes:
        versions.setdefault(recipe.name, []).append(recipe.version)
        newest[recipe.name] = recipe
    used = _used(session, project_id, list(newest))
    items = [
        RecipeOut(
            id=r.id,
            project_id=r.project_id,
            name=r.name,
            version=r.version,
            versions=versions[r.name],
            description=r.description,
            steps=_steps_out(r, templates),
            used=used[r.name],
            created_by=r.created_by,
            created_at=r.created_at,
        )
        for r in newest.values()
    ]
    return RecipeList(items=items)


def get_recipe(
    session: Session, settings: Settings, project_id: uuid.UUID, name: str, version: int | None
) -> RecipeOut:
    get_or_404(session, Project, project_id, "project")
    return recipe_out(session, find(session, project_id, name, version), catalog.catalog(settings))


def delete_recipe(uow: UnitOfWork, project_id: uuid.UUID, name: str) -> None:
    """Delete every version of a recipe no job has used; a used one is kept (409): its jobs name it."""
    session = uow.session
    get_or_404(session, Project, project_id, "project")
    recipe = find(session, project_id, name)
    if _used(session, project_id, [name])[name]:
        raise Conflict(
            f"Recipe '{name}' has been used by farm jobs; it is kept so that their versions name what made "
            "them. Save a new version instead.",
            field="name",
        )
    session.execute(
        delete(RenderRecipe).where(RenderRecipe.project_id == project_id, RenderRecipe.name == name)
    )
    uow.record("recipe.deleted", "recipe", recipe.id, project_id=project_id, data={"name": name})
    uow.commit()


def chosen_recipe(
    session: Session,
    requested: str | None,
    shot: Shot,
    project: Project,
    found: dict[tuple[str, str], RenderRecipe | ApiError] | None = None,
) -> tuple[RenderRecipe, str] | None:
    """The recipe a shot renders with and where that choice was made (the field an error names): the
    request, else the shot's own choice, else the project's default; None when none is chosen. `found`:
    the recipes already looked up by a caller choosing for many shots (name and field -> newest)."""
    if requested:
        name, field = requested, "recipe"
    elif shot.render_recipe:
        name, field = shot.render_recipe, "shot.render_recipe"
    elif project.render_recipe:
        name, field = project.render_recipe, "project.render_recipe"
    else:
        return None
    if found is None:
        return find(session, project.id, name, field=field), field
    if (name, field) not in found:
        try:
            found[(name, field)] = find(session, project.id, name, field=field)
        except ApiError as missing:
            found[(name, field)] = missing
    recipe = found[(name, field)]
    if isinstance(recipe, ApiError):
        raise recipe
    return recipe, field
