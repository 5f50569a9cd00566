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
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.permissions import Permission as P
from ..context import UnitOfWork
from ..crud import get_or_404
from ..db.models import Character, CinematicPreset, Environment, Project, Shot
from ..deps import ServicesDep, uow_for
from ..errors import Conflict, NotFound
from ..versions.review import first_frame
from . import catalog, jobs
from .schemas import JobOut, JobSubmit, RenderShot
from .workflows import WorkflowTemplate

router = APIRouter(tags=["farm"])
DEFAULT_NEGATIVE = "blurry, low quality, distorted faces, extra limbs, watermark, text, subtitles"
SIZE_STEP = 16
# Image jobs make first-frame candidates (previz); video jobs make renders.
IMAGE_JOB_TYPES = frozenset({"t2i", "i2i", "image_edit", "inpaint"})


def shot_prompt(session: Session, shot: Shot) -> str:
    """A plain natural-language prompt from the shot's records (the prompt engine refines this)."""
    parts: list[str] = []
    if shot.preset_id and (preset := session.get(CinematicPreset, shot.preset_id)):
        parts.append(
            ", ".join(
                p
                for p in (preset.shot_size, preset.angle, f"{preset.lens_mm:g}mm lens", preset.movement)
                if p
            )
        )
    names = {
        c.id: c
        for c in session.scalars(
            select(Character).where(Character.id.in_([s.character_id for s in shot.subjects]))
        )
    }
    for subject in shot.subjects:
        character = names.get(subject.character_id)
        if character is None:
            continue
        words = " ".join(character.trigger_words)
        desc = ", ".join(
            x
            for x in (
                words,
                character.name,
                character.description,
                f"wearing {subject.clothing}" if subject.clothing else "",
            )
            if x
        )
        parts.append(desc)
    if shot.action or shot.description:
        parts.append(shot.action or shot.description)
    if shot.environment_id and (env := session.get(Environment, shot.environment_id)):
        parts.append(
            env.prompt or ", ".join(x for x in (env.location, env.time_of_day, env.weather, env.mood) if x)
        )
    if shot.preset_id and (preset := session.get(CinematicPreset, shot.preset_id)):
        parts.append(", ".join(p for p in (preset.film_look, preset.lighting) if p))
    return ". ".join(p for p in parts if p)


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
    if "positive" in roles:
        params["positive"] = shot_prompt(session, shot)
    if "negative" in roles:
        params["negative"] = DEFAULT_NEGATIVE
    if "seed" in roles:
        params["seed"] = body.seed if body.seed is not None else shot.id.int % 2**32
    height = _default(template, "height")
    if "width" in roles and "height" in roles and isinstance(height, int):
        params["height"] = height
        params["width"] = max(
            SIZE_STEP, round(height * project.width / project.height / SIZE_STEP) * SIZE_STEP
        )
    fps = _default(template, "fps")
    if "length" in roles and isinstance(fps, int | float) and fps > 0:
        seconds = shot.duration_frames * project.fps_den / project.fps_num
        length = _default(template, "length")
        params["length"] = _frames(seconds, float(fps), length if isinstance(length, int) else None)
    if "loras" in roles:
        # Each subject's LoRA (file name as the agent's ComfyUI knows it) at the character's strength.
        characters = session.scalars(
            select(Character).where(Character.id.in_([s.character_id for s in shot.subjects]))
        ).all()
        params["loras"] = [
            {"name": c.lora_file.replace("\\", "/").rsplit("/", 1)[-1], "strength": c.lora_strength}
            for c in characters
            if c.lora_file
        ]
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
    shot = get_or_404(session, Shot, shot_id, "shot")
    project = get_or_404(session, Project, shot.project_id, "project")
    if shot.status == "omitted":
        raise Conflict(f"Shot {shot.code} is omitted.", field="shot_id")
    name = body.workflow or services.settings.render_workflow
    template = catalog.template(services.settings, name)
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
