"""/api/projects/{id}/recipes, /api/shots/{id}/render-recipe and /api/projects/{id}/render-ready: render
recipes and rendering the ready shots (docs/api.md, "Recipes")."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response, status

from ..auth.permissions import Permission as P
from ..context import UnitOfWork
from ..deps import ReadSession, ServicesDep, require_any, uow_for
from ..openapi import problems
from . import ready, service
from .schemas import (
    QueuedShot,
    RecipeBody,
    RecipeCreate,
    RecipeList,
    RecipeOut,
    RecipeRender,
    RenderReady,
    RenderReadyOut,
)

router = APIRouter(tags=["recipes"])

# Recipes are project assets, like characters and presets; queueing them is sending work to the farm.
Editor = Annotated[UnitOfWork, Depends(uow_for(P.ASSET_EDIT))]
Submitter = Annotated[UnitOfWork, Depends(uow_for(P.RENDER_SUBMIT))]
Reader = Depends(require_any(P.PROJECT_READ))
Name = Annotated[str, Path(pattern=r"^[\w][\w.-]{0,99}$")]


@router.post(
    "/projects/{project_id}/recipes",
    response_model=RecipeOut,
    status_code=status.HTTP_201_CREATED,
    operation_id="create_recipe",
    responses=problems(409),
)
def create_recipe(project_id: uuid.UUID, body: RecipeCreate, uow: Editor, services: ServicesDep) -> RecipeOut:
    """A new recipe (version 1), its steps checked against the workflow catalogue."""
    return service.create(uow, services.settings, project_id, body)


@router.get(
    "/projects/{project_id}/recipes",
    response_model=RecipeList,
    dependencies=[Reader],
    operation_id="list_recipes",
)
def list_recipes(project_id: uuid.UUID, session: ReadSession, services: ServicesDep) -> RecipeList:
    """The project's recipes, the newest version of each."""
    return service.list_recipes(session, services.settings, project_id)


@router.get(
    "/projects/{project_id}/recipes/{name}",
    response_model=RecipeOut,
    dependencies=[Reader],
    operation_id="get_recipe",
)
def get_recipe(
    project_id: uuid.UUID,
    name: Name,
    session: ReadSession,
    services: ServicesDep,
    version: Annotated[int | None, Query(ge=1, description="Default: the newest.")] = None,
) -> RecipeOut:
    return service.get_recipe(session, services.settings, project_id, name, version)


@router.put(
    "/projects/{project_id}/recipes/{name}",
    response_model=RecipeOut,
    status_code=status.HTTP_201_CREATED,
    operation_id="save_recipe_version",
)
def save_recipe_version(
    project_id: uuid.UUID, name: Name, body: RecipeBody, uow: Editor, services: ServicesDep
) -> RecipeOut:
    """Save the steps as the recipe's next version (version 1 of a new name). Older versions are kept as
    they were: the jobs that ran them still name them."""
    return service.new_version(uow, services.settings, project_id, name, body)


@router.delete(
    "/projects/{project_id}/recipes/{name}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="delete_recipe",
    responses=problems(409),
)
def delete_recipe(project_id: uuid.UUID, name: Name, uow: Editor) -> Response:
    """Delete every version of a recipe that no job has used (409 otherwise)."""
    service.delete_recipe(uow, project_id, name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/shots/{shot_id}/render-recipe",
    response_model=QueuedShot,
    status_code=status.HTTP_201_CREATED,
    operation_id="render_shot_recipe",
    responses=problems(409),
)
def render_shot_recipe(
    shot_id: uuid.UUID, body: RecipeRender, uow: Submitter, services: ServicesDep
) -> QueuedShot:
    """Queue a recipe for the shot (the request's, else the shot's, else the project's): one job per step,
    each depending on the one before."""
    return ready.render_shot(uow, services.settings, shot_id, body)


@router.post(
    "/projects/{project_id}/render-ready",
    response_model=RenderReadyOut,
    status_code=status.HTTP_201_CREATED,
    operation_id="render_ready_shots",
)
def render_ready_shots(
    project_id: uuid.UUID, body: RenderReady, uow: Submitter, services: ServicesDep
) -> RenderReadyOut:
    """Queue the chosen recipe for every confirmed shot with an approved first frame and no current render
    (or for `shot_ids` only), in one transaction; the other shots are listed with the reason."""
    return ready.render_ready(uow, services.settings, project_id, body)
