"""Routes for the simple records that belong to a project (scenes, characters, environments, presets).

Each gets `GET/POST /api/projects/{project_id}/<plural>` and `GET/PATCH/DELETE /api/<plural>/{id}` with
the same paging, revision and error rules. Records with more rules (shots) have their own routes.
"""

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import BaseModel
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from . import resources
from .auth.permissions import Permission
from .context import UnitOfWork
from .crud import expected_revision, get_or_404, paginate
from .db.models import Project
from .deps import IfMatch, ListParamsDep, ReadSession, require, uow_for
from .schemas import Page


@dataclass(frozen=True)
class ChildSpec:
    res: resources.Resource
    plural: str
    create_model: type[BaseModel]
    update_model: type[BaseModel]
    out_model: type[BaseModel]
    sortable: dict[str, Any]
    default_sort: list[str]
    search_columns: Sequence[Any]
    write_permission: Permission
    # Hooks for the rules a record type adds.
    scope: Callable[[Select[Any], uuid.UUID], Select[Any]] | None = None
    build: Callable[[UnitOfWork, Project, Any], Any] | None = None
    before_update: Callable[[UnitOfWork, Any, dict[str, Any]], None] | None = None
    before_delete: Callable[[UnitOfWork, Any], None] | None = None
    extra_filters: dict[str, Any] = field(default_factory=dict)


def list_children(
    session: Session,
    spec: ChildSpec,
    project_id: uuid.UUID,
    params: Any,
    q: str | None,
    filters: dict[str, Any],
) -> dict[str, Any]:
    get_or_404(session, Project, project_id, "project")
    model = spec.res.model
    stmt = (
        spec.scope(select(model), project_id)
        if spec.scope
        else select(model).where(model.project_id == project_id)
    )
    if q:
        stmt = stmt.where(or_(*(column.ilike(f"%{q}%") for column in spec.search_columns)))
    for name, value in filters.items():
        if value is not None:
            stmt = stmt.where(spec.extra_filters[name] == value)
    return paginate(session, stmt, params, spec.sortable, spec.default_sort, spec.out_model.model_validate)


def build_router(spec: ChildSpec) -> APIRouter:
    """The five routes of one project child type."""
    router = APIRouter(tags=[spec.plural])
    entity = spec.res.entity
    reader = Depends(require(Permission.PROJECT_READ))
    Writer = Annotated[UnitOfWork, Depends(uow_for(spec.write_permission))]
    Create = spec.create_model
    Update = spec.update_model

    @router.get(
        f"/projects/{{project_id}}/{spec.plural}",
        response_model=Page[spec.out_model],
        dependencies=[reader],
        operation_id=f"list_{spec.plural}",
        summary=f"List {spec.plural}",
    )
    def list_items(
        project_id: uuid.UUID,
        session: ReadSession,
        params: ListParamsDep,
        q: Annotated[str | None, Query(description="Text search.")] = None,
    ) -> dict[str, Any]:
        return list_children(session, spec, project_id, params, q, {})

    @router.post(
        f"/projects/{{project_id}}/{spec.plural}",
        response_model=spec.out_model,
        status_code=status.HTTP_201_CREATED,
        operation_id=f"create_{entity}",
        summary=f"Create a {entity}",
    )
    def create_item(project_id: uuid.UUID, body: Create, uow: Writer) -> BaseModel:  # type: ignore[valid-type]
        project = get_or_404(uow.session, Project, project_id, "project")
        obj = (
            spec.build(uow, project, body)
            if spec.build
            else spec.res.model(project_id=project.id, **body.model_dump())
        )  # type: ignore[attr-defined]
        return resources.create(uow, spec.res, obj)

    @router.get(
        f"/{spec.plural}/{{item_id}}",
        response_model=spec.out_model,
        dependencies=[reader],
        operation_id=f"get_{entity}",
        summary=f"Get a {entity}",
    )
    def get_item(item_id: uuid.UUID, session: ReadSession, response: Response) -> BaseModel:
        obj = get_or_404(session, spec.res.model, item_id, entity)
        response.headers["ETag"] = f'"{obj.revision}"'
        return spec.res.out(obj)

    @router.patch(
        f"/{spec.plural}/{{item_id}}",
        response_model=spec.out_model,
        operation_id=f"update_{entity}",
        summary=f"Update a {entity}",
    )
    def update_item(
        item_id: uuid.UUID,
        body: Update,
        uow: Writer,  # type: ignore[valid-type]
        if_match: IfMatch,
    ) -> BaseModel:
        obj = get_or_404(uow.session, spec.res.model, item_id, entity)
        revision = expected_revision(body.revision, if_match)  # type: ignore[attr-defined]
        values = body.model_dump(exclude_unset=True, exclude={"revision"})  # type: ignore[attr-defined]
        if spec.before_update:
            spec.before_update(uow, obj, values)
        return resources.update(uow, spec.res, obj, values, revision)

    @router.delete(
        f"/{spec.plural}/{{item_id}}",
        status_code=status.HTTP_204_NO_CONTENT,
        operation_id=f"delete_{entity}",
        summary=f"Delete a {entity}",
    )
    def delete_item(
        item_id: uuid.UUID,
        uow: Writer,
        if_match: IfMatch,
        revision: Annotated[int | None, Query(ge=1)] = None,
    ) -> Response:
        obj = get_or_404(uow.session, spec.res.model, item_id, entity)
        if spec.before_delete:
            spec.before_delete(uow, obj)
        resources.delete(uow, spec.res, obj, expected_revision(revision, if_match))
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    return router
