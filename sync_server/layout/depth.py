"""A depth image of the shot's first frame, made on the farm (a `depth` job, e.g. Lotus) and published as
the shot's next `control` version with provenance control_kind 'depth' and the picture it came from."""

from __future__ import annotations

import uuid

from aipipe_shared.workflows import role_targets

from ..context import UnitOfWork
from ..db.models import Version, VersionFile
from ..errors import Conflict, NotFound, Unprocessable
from ..farm import catalog, jobs
from ..farm.render import version_input
from ..farm.schemas import JobOut, JobSubmit
from ..settings import Settings
from ..versions.review import first_frame
from .schemas import DepthRequest

ESTIMATE_S = 30.0  # a one-step SD2-sized model on one picture


def _picture(uow: UnitOfWork, shot_id: uuid.UUID, body: DepthRequest) -> tuple[Version, VersionFile]:
    session = uow.session
    if body.source_version_id is None:
        try:
            frame = first_frame(session, shot_id)
        except NotFound as exc:
            raise Conflict(
                f"{exc.detail} Approve a take (or give source_version_id) before asking for its depth.",
                field="source_version_id",
            ) from exc
        version, file = session.get(Version, frame.version.id), session.get(VersionFile, frame.file.id)
        assert version is not None and file is not None
        return version, file
    version = session.get(Version, body.source_version_id)
    if version is None or version.shot_id != shot_id:
        raise Unprocessable(f"no version {body.source_version_id} of this shot", field="source_version_id")
    file = next((f for f in version.files if f.mime.startswith("image/")), None)
    if file is None:
        raise Unprocessable(f"version {version.id} holds no image", field="source_version_id")
    return version, file


def queue_depth(uow: UnitOfWork, settings: Settings, shot_id: uuid.UUID, body: DepthRequest) -> JobOut:
    """Queue the depth job of the shot's first frame (or `source_version_id`)."""
    shot = jobs.shot_to_work_on(uow.session, shot_id)
    template = catalog.template(settings, body.workflow, field="workflow")
    if template.meta.job_type != "depth" or "image" not in template.roles:
        raise Unprocessable(
            f"workflow '{template.name}' is a {template.meta.job_type} workflow, not a depth estimate of a "
            "picture (job type 'depth' with an 'image' input)",
            field="workflow",
        )
    version, file = _picture(uow, shot.id, body)
    ext = file.name.rsplit(".", 1)[-1] if "." in file.name else "png"
    name = f"{shot.code}_depth_source_{version.stage}_v{version.number:03d}.{ext}"
    inputs = [version_input("image", name, version, file, role_targets(template, "image"))]
    params = {"filename_prefix": f"aipipe/{shot.code}_depth"} if "filename_prefix" in template.roles else {}
    submit = JobSubmit(
        type="depth",
        workflow=template.name,
        params=params,
        priority=body.priority,
        shot_id=shot.id,
        output_stage="control",
        estimate_s=ESTIMATE_S,
    )
    # What the published depth image says it is (publish lifts `provenance` to the top, like an upload's).
    take = {
        "operation": "depth",
        "provenance": {"control_kind": "depth", "source_version_id": str(version.id)},
    }
    return jobs.submit(uow, settings, submit, inputs=inputs, extra={"take": take})
