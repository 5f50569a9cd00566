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

from aipipe_shared.workflows import WorkflowTemplate, role_targets, rules_of, snap
from aipipe_shared.workflows.lora_chain import MODEL_LOADERS

from ..auth.permissions import Permission as P
from ..context import UnitOfWork
from ..crud import get_or_404
from ..db.models import Project, Shot, Version, VersionFile
from ..deps import ServicesDep, uow_for
from ..errors import Conflict, NotFound
from ..layout.control import control_video
from ..prompts.engine import PromptResult
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
    seed = body.seed if body.seed is not None else default_seed(shot)
    return {**shot_params(session, shot, project, template, seed=seed), **body.params}


def default_seed(shot: Shot) -> int:
    """A shot's own seed: the same every time it is rendered without one."""
    return shot.id.int % 2**32


def shot_params(
    session: Session,
    shot: Shot,
    project: Project,
    template: WorkflowTemplate,
    *,
    seed: int,
    prompt: PromptResult | None = None,
    size: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """The roles a shot binds in any workflow (render, take): the prompt engine's positive and negative
    prompts and LoRAs, the seed, a size with the project's aspect ratio at the template's height (or
    `size`), the shot's length at the template's frame rate, the file name prefix. `prompt`: the prompt
    already built for this shot and template (a caller queueing many jobs builds it once)."""
    roles = template.roles
    params: dict[str, Any] = {}
    prompt = prompt or prompt_for(session, shot, template)
    if "positive" in roles:
        params["positive"] = prompt.positive
    if "negative" in roles:
        params["negative"] = prompt.negative
    if "seed" in roles:
        params["seed"] = seed
    rules = rules_of(template)
    if "width" in roles and "height" in roles:
        if size is not None:
            params["width"] = snap(rules, "width", size[0])
            params["height"] = snap(rules, "height", size[1])
        else:
            height = _default(template, "height")
            if isinstance(height, int):
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
    return params


def version_input(
    role: str, name: str, version: Version, file: VersionFile, targets: list[list[str]]
) -> dict[str, Any]:
    """A job input made of a version's file: what the agent downloads and binds at `targets`."""
    return {
        "role": role,
        "name": name,
        "url": f"/api/versions/{version.id}/files/{file.id}",
        "sha256": file.sha256,
        "version_id": str(version.id),
        "targets": targets,
    }


def output_stage(template: WorkflowTemplate) -> str:
    """Image jobs publish first-frame candidates (previz); video jobs publish renders."""
    return "previz" if template.meta.job_type in IMAGE_JOB_TYPES else "render"


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
        version = session.get(Version, frame.version.id)
        file = session.get(VersionFile, frame.file.id)
        assert version is not None and file is not None
        name = f"{shot.code}_first_frame_v{frame.version.number:03d}.{ext}"
        inputs.append(version_input("image", name, version, file, role_targets(template, "image")))
    params = render_params(session, shot, project, template, body)
    extra = None
    if body.layout_control is not None or "control_video" in template.roles:
        # The layout's depth video drives the render; its provenance names the layout followed.
        control = control_video(
            session, shot, template, body.layout_control, params, services.settings.resolved_storage_root
        )
        inputs.append(control.input)
        extra = {"take": {"provenance": control.provenance}}
    submit = shot_job(template, params, shot.id, body.priority)
    return jobs.submit(uow, services.settings, submit, inputs=inputs, extra=extra)


def shot_job(
    template: WorkflowTemplate, params: dict[str, Any], shot_id: uuid.UUID, priority: int
) -> JobSubmit:
    """The farm job that runs `template` with `params` for the shot: its job type, the stage its output
    publishes to and its GPU-time estimate follow from the template."""
    return JobSubmit(
        type=template.meta.job_type,
        workflow=template.name,
        params=params,
        priority=priority,
        shot_id=shot_id,
        output_stage=output_stage(template),
        estimate_s=estimate(template, params),
    )


def estimate(template: WorkflowTemplate, params: dict[str, Any]) -> float:
    """A first guess of GPU time from the frame count (history-based estimates are future work)."""
    frames = params.get("length") or 1
    return max(30.0, float(frames) * (6.0 if template.meta.min_vram_gb >= 20 else 2.0))
