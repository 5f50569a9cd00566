"""`GET /api/shots/{shot_id}/prompt?workflow=...`: preview the prompt a render of the shot would use."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from aipipe_shared.workflows import TemplateBindError, bind

from ..auth.permissions import Permission as P
from ..crud import get_or_404
from ..db.models import Project, Shot
from ..deps import ReadSession, ServicesDep, require
from ..farm import catalog
from .service import prompt_for, result_json

router = APIRouter(tags=["prompts"])


@router.get(
    "/shots/{shot_id}/prompt",
    operation_id="preview_shot_prompt",
    dependencies=[Depends(require(P.PROJECT_READ))],
)
def preview_prompt(
    shot_id: uuid.UUID,
    session: ReadSession,
    services: ServicesDep,
    workflow: Annotated[
        str | None, Query(description="Workflow template name; default: what a render of the shot would use.")
    ] = None,
    graph: Annotated[bool, Query(description="Also return the bound ComfyUI graph's LoRA nodes.")] = False,
) -> dict[str, Any]:
    """Positive and negative prompt, each fragment with its source, and the LoRAs with strengths."""
    shot = get_or_404(session, Shot, shot_id, "shot")
    project = get_or_404(session, Project, shot.project_id, "project")
    # The workflow a render would use: the request's, the shot's, the project's, the server's.
    name, chosen_by = catalog.chosen_workflow(workflow, shot, project, services.settings.render_workflow)
    template = catalog.template(services.settings, name, field=chosen_by)
    result = prompt_for(session, shot, template)
    body = result_json(result, template.name)
    if graph:
        loras = [{"name": x.name, "strength": x.strength} for x in result.loras]
        params: dict[str, Any] = {"loras": loras} if loras else {}
        try:
            bound = bind(template, {**params, **_placeholders(template)})
        except TemplateBindError as exc:
            body["lora_error"] = str(exc)
        else:
            body["lora_nodes"] = {
                node_id: node
                for node_id, node in bound.items()
                if node.get("class_type") in ("LoraLoader", "LoraLoaderModelOnly")
            }
    return body


def _placeholders(template: Any) -> dict[str, str]:
    """Input-file roles need a value to bind; the preview uses their names only."""
    return {role: f"preview_{role}" for role in ("image", "end_image", "video") if role in template.roles}
