"""`POST /api/shots/{shot_id}/render`: a confirmed shot becomes an image-to-video job.

The shot's workflow binds: a prompt built from the shot (subjects with their clothing and LoRA trigger
words, environment, cinematic preset, action), a seed, the approved first frame, a size with the project's
aspect ratio, the shot's length at the workflow's frame rate. The agent publishes the result as the next
`render` version of the shot.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, status
from sqlalchemy.orm import Session

from aipipe_shared.workflows import WorkflowTemplate, rules_of, snap
from aipipe_shared.workflows.lora_chain import MODEL_LOADERS

from ..auth.permissions import Permission as P
from ..context import UnitOfWork
from ..crud import get_or_404
from ..db.models import Project, Shot
from ..deps import ServicesDep, uow_for
from ..errors import Conflict, NotFound
from ..prompts.service import prompt_for
from ..versions.review import first_frame
from . import catalog, jobs
from .schemas import JobOut, JobSubmit, RenderShot

router = APIRouter(tags=["farm"])
SIZE_STEP = 16
# Image jobs make first-frame candidates (previz); video jobs make renders.
IMAGE_JOB_TYPES = frozenset({"t2i", "i2i", "image_edit", "inpaint"})


def shot_prompt(session: Session, shot: Shot, template: WorkflowTemplate | None = None) -> str:
    """The shot's positive prompt from the prompt engine, in the workflow's style (docs/prompts.md)."""
    return prompt_for(session, shot, template).positive


def _default(template: WorkflowTemplate, role: str) -> Any:
    targets = template.meta.bindings.get(role) or []
    if not targets:
        return None
    node, name = targets[0]
    return template.graph[node]["inputs"].get(name)


def _frames(seconds: float, fps: float, template_length: int | None) -> int:
    frames = max(1, round(seconds * fps))
    # Wan and LTX want 4k+1 and 8k+1 frame counts; follow the template's own default's pattern.
    if template_length and template_length % 8 == 1:
        return frames // 8 * 8 + 1
    if template_length and template_length % 4 == 1:
        return frames // 4 * 4 + 1
    return frames


def render_params(
    session: Session, shot: Shot, project: Project, template: WorkflowTemplate, body: RenderShot
) -> dict[str, Any]:
    roles = template.roles
    params: dict[str, Any] = {}
    prompt = prompt_for(session, shot, template)
    if "positive" in roles:
        params["positive"] = prompt.positive
    if "negative" in roles:
        params["negative"] = prompt.negative
    if "seed" in roles:
        params["seed"] = body.seed if body.seed is not None else shot.id.int % 2**32
    height = _default(template, "height")
    rules = rules_of(template)
    if "width" in roles and "height" in roles and isinstance(height, int):
        params["height"] = height
        width = max(SIZE_STEP, round(height * project.width / project.height / SIZE_STEP) * SIZE_STEP)
        params["width"] = snap(rules, "width", width)  # the workflow's size step (LTX: 32)
    fps = _default(template, "fps")
    if "length" in roles and isinstance(fps, int | float) and fps > 0:
        seconds = shot.duration_frames * project.fps_den / project.fps_num
        length = _default(template, "length")
        frames = _frames(seconds, float(fps), length if isinstance(length, int) else None)
        params["length"] = snap(rules, "length", frames)
    has_loader = any(n.get("class_type") in MODEL_LOADERS for n in template.graph.values())
    if prompt.loras and ("loras" in roles or has_loader):
        # Each subject's LoRA (file name as the agent's ComfyUI knows it) at the character's strength:
        # into the template's LoRA slots, or as a chain of loaders after its model loader(s).
        params["loras"] = [{"name": x.name, "strength": x.strength} for x in prompt.loras]
    if "filename_prefix" in roles:
        params["filename_prefix"] = f"aipipe/{shot.code}"
    params.update(body.params)
    return params


@router.post(
    "/shots/{shot_id}/render",
    response_model=JobOut,
    status_code=status.HTTP_201_CREATED,
    operation_id="render_shot",
)
def render_shot(
    shot_id: uuid.UUID,
    body: RenderShot,
    uow: Annotated[UnitOfWork, Depends(uow_for(P.RENDER_SUBMIT))],
    services: ServicesDep,
) -> JobOut:
    """Queue the shot's final render: its workflow, prompt, seed, first frame, size and length bound."""
    session = uow.session
    shot = jobs.shot_to_work_on(session, shot_id)
    project = get_or_404(session, Project, shot.project_id, "project")
    name, chosen_by = catalog.chosen_workflow(body.workflow, shot, project, services.settings.render_workflow)
    template = catalog.template(services.settings, name, field=chosen_by)
    inputs: list[dict[str, Any]] = []
    if "image" in template.roles:
        try:
            frame = first_frame(session, shot.id)
        except NotFound as exc:
            raise Conflict(
                f"Shot {shot.code} has no approved first frame yet: approve a previz version "
                "before rendering.",
                field="shot_id",
            ) from exc
        ext = frame.file.name.rsplit(".", 1)[-1]
        inputs.append(
            {
                "role": "image",
                "name": f"{shot.code}_first_frame_v{frame.version.number:03d}.{ext}",
                "url": frame.file.url,
                "sha256": frame.file.sha256,
                "version_id": str(frame.version.id),
                "targets": [list(t) for t in template.meta.bindings["image"]],
            }
        )
    params = render_params(session, shot, project, template, body)
    submit = JobSubmit(
        type=template.meta.job_type,
        workflow=template.name,
        params=params,
        priority=body.priority,
        shot_id=shot.id,
        output_stage="previz" if template.meta.job_type in IMAGE_JOB_TYPES else "render",
        estimate_s=_estimate(template, params),
    )
    return jobs.submit(uow, services.settings, submit, inputs=inputs)


def _estimate(template: WorkflowTemplate, params: dict[str, Any]) -> float:
    """A first guess of GPU time from the frame count (history-based estimates are future work)."""
    frames = params.get("length") or 1
    return max(30.0, float(frames) * (6.0 if template.meta.min_vram_gb >= 20 else 2.0))
