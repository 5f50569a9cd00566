"""Redo from a take: the same request and bound parameters again (the prompt as it was then), with a new
seed unless told otherwise, and with the changes the request asks for."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import ValidationError

from ..context import UnitOfWork
from ..crud import get_or_404
from ..db.models import Project
from ..errors import Conflict, Unprocessable
from ..farm import catalog
from ..farm.jobs import shot_to_work_on
from ..settings import Settings
from .queue import TakeQueue
from .schemas import RedoRequest, TakeFields, TakeJobs
from .service import take_version

# The recorded parameters a changed request field makes stale (they are bound afresh from the change).
STALE_ROLES = {
    "prompt": {"positive"},
    "negative": {"negative"},
    "instruction": {"instruction", "positive"},
    "denoise": {"denoise"},
    "control": {"control_strength", "control_start", "control_end"},
    "pad": {"pad_left", "pad_top", "pad_right", "pad_bottom"},
    "aspect": {"pad_left", "pad_top", "pad_right", "pad_bottom"},
    "source_version_id": {"width", "height", "pad_left", "pad_top", "pad_right", "pad_bottom"},
}
NOT_REPEATED = {"seed", "filename_prefix"}
REQUEST_FIELDS = frozenset(TakeFields.model_fields)


def _recorded_request(provenance: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """The take request as the take's provenance recorded it; for an older take (made by a render job or
    uploaded with a workflow name), what its workflow implies."""
    take = provenance.get("take")
    if isinstance(take, dict):
        return {k: v for k, v in take.items() if k in REQUEST_FIELDS}
    workflow = provenance.get("workflow")
    if not isinstance(workflow, str):
        raise Conflict("This take was not made by a workflow: nothing to redo.", field="version_id")
    operation = catalog.template(settings, workflow, field="version_id").meta.take_operation
    if operation != "generate":
        raise Conflict(
            f"This take's workflow '{workflow}' is not a generate workflow and its inputs were not recorded.",
            field="version_id",
        )
    return {"operation": operation, "workflow": workflow}


def redo(uow: UnitOfWork, settings: Settings, version_id: uuid.UUID, body: RedoRequest) -> TakeJobs:
    session = uow.session
    version = take_version(session, version_id)
    provenance = version.provenance or {}
    request = _recorded_request(provenance, settings)
    request["candidates"] = 1
    request["seed"] = None
    changes = (
        body.changes.model_dump(mode="json", include=body.changes.model_fields_set) if body.changes else {}
    )
    stale = set(NOT_REPEATED)
    for name in changes:
        stale |= STALE_ROLES.get(name, set())
    recorded = provenance.get("params") if isinstance(provenance.get("params"), dict) else {}
    if request.get("recipe"):  # a recipe's chain is bound afresh: the request's own values again
        recorded = request.get("params") or {}
    if {"workflow", "operation", "recipe", "recipe_version"} & set(changes):
        recorded = {}  # another template: its roles are bound afresh
    if "workflow" in changes and "recipe" not in changes:
        request.pop("recipe", None)
        request.pop("recipe_version", None)
    if "recipe" in changes and "workflow" not in changes:
        request.pop("workflow", None)
    made_with = provenance.get("recipe") if isinstance(provenance.get("recipe"), dict) else {}
    if request.get("recipe") and not {"recipe", "recipe_version"} & set(changes):
        # the recipe version the take was made with, not a newer one saved since
        request["recipe_version"] = made_with.get("version") or request.get("recipe_version")
    params = {k: v for k, v in recorded.items() if k not in stale}
    params.update(changes.pop("params", {}) or {})
    request.update(changes)
    request["params"] = params
    try:
        fields = TakeFields.model_validate(request)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise Unprocessable(f"the redone take's {where}: {first['msg']}", field=f"changes.{where}") from exc
    seeds = None
    if not body.new_seed and "seed" not in changes:
        take = provenance.get("take") if isinstance(provenance.get("take"), dict) else {}
        seed = take.get("seed_used", provenance.get("seed")) if take.get("recipe") else provenance.get("seed")
        if not isinstance(seed, int):
            raise Conflict("This take's seed was not recorded: redo it with a new seed.", field="new_seed")
        seeds = [seed]
    shot = shot_to_work_on(session, version.shot_id)
    project = get_or_404(session, Project, shot.project_id, "project")
    queue = TakeQueue(uow, settings)
    queue.plan(shot, project, fields, seeds=seeds, origin={"redo_of": str(version.id)})
    return TakeJobs(jobs=queue.insert({project.id: project.code}))
