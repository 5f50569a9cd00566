"""`POST /api/shots/{shot_id}/playblast`: a farm agent with Blender renders the shot's layout .blend into
the next `playblast` version, with the same burn-ins and frame range as the artist's own playblast.
`POST /api/shots/{shot_id}/control-images`: agents with Blender render the layout's control images (depth,
lines, pose) from its shot camera, each into the next `control` version of that kind."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, status
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.permissions import Permission as P
from ..context import UnitOfWork
from ..crud import get_or_404
from ..db.models import Shot, Version
from ..deps import ServicesDep, uow_for
from ..errors import Conflict, Unprocessable
from ..schemas import Id, Input, Output, ShortText
from ..versions.schemas import FileOut
from . import jobs
from .schemas import JobOut, JobSubmit, Priority

router = APIRouter(tags=["farm"])
PLAYBLAST_ESTIMATE_S = 120.0
CONTROL_IMAGE_ESTIMATE_S = 20.0


class PlayblastShot(Input):
    version_id: Id | None = Field(
        default=None, description="The layout version to play; default: the newest one with a .blend."
    )
    scene: ShortText | None = Field(default=None, description="Scene in the .blend; default: its active one.")
    start: int | None = Field(default=None, description="First frame; default: the shot's cut in.")
    end: int | None = Field(default=None, description="Last frame; default: the shot's cut out.")
    priority: Priority = 50


def _layout_blend(session: Session, shot: Shot, version_id: uuid.UUID | None) -> tuple[Version, FileOut]:
    if version_id is not None:
        version = get_or_404(session, Version, version_id, "version")
        if version.shot_id != shot.id or version.stage != "layout":
            raise Unprocessable(f"not a layout version of shot {shot.code}", field="version_id")
        candidates = [version]
    else:
        candidates = list(
            session.scalars(
                select(Version)
                .where(Version.shot_id == shot.id, Version.stage == "layout")
                .order_by(Version.number.desc())
            )
        )
    for version in candidates:
        blend = next((f for f in version.files if f.name.lower().endswith(".blend")), None)
        if blend is not None:
            return version, FileOut.of(blend)
    if version_id is not None:
        raise Unprocessable(f"layout v{candidates[0].number:03d} holds no .blend file", field="version_id")
    raise Conflict(
        f"Shot {shot.code} has no layout version with a .blend yet: set the shot up in Blender and save it.",
        field="shot_id",
    )


@router.post(
    "/shots/{shot_id}/playblast",
    response_model=JobOut,
    status_code=status.HTTP_201_CREATED,
    operation_id="playblast_shot",
)
def playblast_shot(
    shot_id: uuid.UUID,
    body: PlayblastShot,
    uow: Annotated[UnitOfWork, Depends(uow_for(P.RENDER_SUBMIT))],
    services: ServicesDep,
) -> JobOut:
    """Queue a headless playblast of the shot's layout; the agent's mp4 becomes the next playblast version."""
    session = uow.session
    shot = jobs.shot_to_work_on(session, shot_id)
    if body.start is not None and body.end is not None and body.end < body.start:
        raise Unprocessable("end comes before start", field="end")
    version, blend = _layout_blend(session, shot, body.version_id)
    params = {
        "blend_url": blend.url,
        "blend_sha256": blend.sha256,
        "shot": shot.code,
        "version": f"layout v{version.number:03d}",
        "artist": version.created_by,
        "output_name": f"{shot.code}_playblast.mp4",
        **{
            k: v
            for k, v in {"scene": body.scene, "start": body.start, "end": body.end}.items()
            if v is not None
        },
    }
    submit = JobSubmit(
        type="playblast",
        params=params,
        priority=body.priority,
        shot_id=shot.id,
        output_stage="playblast",
        estimate_s=PLAYBLAST_ESTIMATE_S,
    )
    return jobs.submit(uow, services.settings, submit)


class ControlImagesShot(Input):
    kinds: list[Literal["depth", "canny", "pose"]] = Field(
        default_factory=lambda: ["depth", "canny"],
        min_length=1,
        max_length=3,
        description="Which control images: depth, canny (lines), pose (the character rigs); one job each.",
    )
    version_id: Id | None = Field(
        default=None, description="The layout version to render; default: the newest one with a .blend."
    )
    scene: ShortText | None = Field(default=None, description="Scene in the .blend; default: the shot's.")
    frame: int | None = Field(
        default=None, description="Frame; default: the shot's cut in saved in the .blend."
    )
    bits: Literal[8, 16] = Field(default=8, description="Bits of the depth image.")
    priority: Priority = 50


class ControlImageJobs(Output):
    jobs: list[JobOut]


@router.post(
    "/shots/{shot_id}/control-images",
    response_model=ControlImageJobs,
    status_code=status.HTTP_201_CREATED,
    operation_id="render_control_images",
)
def render_control_images(
    shot_id: uuid.UUID,
    body: ControlImagesShot,
    uow: Annotated[UnitOfWork, Depends(uow_for(P.RENDER_SUBMIT))],
    services: ServicesDep,
) -> ControlImageJobs:
    """Queue one headless control-image render of the shot's layout per kind; each agent's PNG becomes the
    shot's next `control` version with that `control_kind` (what a take's control_from_layout picks)."""
    session = uow.session
    shot = jobs.shot_to_work_on(session, shot_id)
    for index, kind in enumerate(body.kinds):
        if kind in body.kinds[:index]:
            raise Unprocessable(f"{kind} is asked for twice", field=f"kinds.{index}")
    version, blend = _layout_blend(session, shot, body.version_id)
    queued = []
    for kind in body.kinds:
        params = {
            "blend_url": blend.url,
            "blend_sha256": blend.sha256,
            "kind": kind,
            "shot": shot.code,
            "bits": body.bits,
            "output_name": f"{shot.code}_control_{kind}.png",
            **{k: v for k, v in {"scene": body.scene, "frame": body.frame}.items() if v is not None},
        }
        submit = JobSubmit(
            type="control_image",
            params=params,
            priority=body.priority,
            shot_id=shot.id,
            output_stage="control",
            estimate_s=CONTROL_IMAGE_ESTIMATE_S,
        )
        # What the published version is, at the top of its provenance (as an upload from the add-on says).
        made = {"control_kind": kind, "source": "farm", "layout_version_id": str(version.id)}
        queued.append(jobs.submit(uow, services.settings, submit, extra={"take": {"provenance": made}}))
    return ControlImageJobs(jobs=queued)
