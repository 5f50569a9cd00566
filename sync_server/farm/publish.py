"""A finished shot job's outputs become the shot's next version, through the same publishing path as an
artist's upload (numbering, media probe, thumbnail, live event). Publishing twice for one job returns the
version already made."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from aipipe_shared.workflows import OPERATION_OF_JOB_TYPE, graph_model_files

from ..context import UnitOfWork
from ..db.models import Agent, Job
from ..deps import Services
from ..errors import Unprocessable
from ..versions import service as versions
from ..versions import sniff
from ..versions.extent import MediaExtent
from ..versions.staging import StagingArea
from ..versions.upload import ReceivedFile, split_name

HEAD_BYTES = 8192


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)  # same filesystem: no second copy of a large render
    except OSError:
        shutil.copy2(source, target)


def publish_outputs(
    services: Services, staging: StagingArea, actor_uow: UnitOfWork, job: Job, reported: dict[str, Any]
) -> uuid.UUID:
    """Publish the job's uploaded outputs as a `job.output_stage` version of its shot; return its id."""
    root = services.settings.resolved_storage_root
    upload = staging.new_upload()
    try:
        files: list[ReceivedFile] = []
        for index, output in enumerate(job.outputs):
            source = root / output["path"]
            target = upload.folder / output["name"]
            _link_or_copy(source, target)
            ext = split_name(output["name"])[1]
            with target.open("rb") as handle:
                head = handle.read(HEAD_BYTES)
            try:
                mime = sniff.check(ext, head, output["size"])
            except sniff.Mismatch as exc:
                raise Unprocessable(f"output {output['name']}: {exc}", field=f"outputs.{index}") from exc
            files.append(
                ReceivedFile(
                    index=index,
                    client_name=output["name"],
                    name=output["name"],
                    ext=ext,
                    path=target,
                    size=output["size"],
                    sha256=output["sha256"],
                    mime=mime,
                )
            )
        params = job.params or {}
        take = job.take or {}
        provenance: dict[str, Any] = {
            **reported,
            "job_id": str(job.id),
            "job_type": job.type,
            "workflow": job.workflow,
            "operation": take.get("operation") or OPERATION_OF_JOB_TYPE.get(job.type),
            "prompt": params.get("positive"),
            "negative_prompt": params.get("negative"),
            "instruction": params.get("instruction"),
            "seed": params.get("seed"),
            "models": sorted(graph_model_files(job.graph or {})),
            "params": params,  # every bound role
            "agent": str(job.agent_id) if job.agent_id else None,
            "inputs": job.inputs,
            # The versions (and character references) the job read: source take, mask, control image ...
            "input_version_ids": [
                i.get("version_id") or i.get("reference_id")
                for i in job.inputs
                if i.get("version_id") or i.get("reference_id")
            ],
            "take": job.take,  # the take request (image loop): what a redo repeats
        }
        provenance = {k: v for k, v in provenance.items() if v is not None}
        # What a layout job's output is, at the top like an upload's (a depth job: control_kind and
        # source_version_id; a render that followed a layout: layout_version_id).
        provenance.update(take.get("provenance") or {})
        # What the movie holds: its frame count is probed (PyAV) when published; farm renders and
        # playblasts are made of the cut only (no handles); a playblast's agent reports its first frame.
        first = reported.get("frame_start")
        form = versions.PublishForm(
            stage=job.output_stage or "render",
            comment=f"farm job {job.id}",
            provenance=provenance,
            # Farm-made files are named like any published file (version_file_name): SHT_0010_render_v002.mp4
            rename=True,
            extent=MediaExtent(first_frame=first if isinstance(first, int) else None),
        )
        thumbnail = versions.describe_media(files, upload.folder, services.settings.thumbnail_size)
        publication = versions.Publication(job.shot_id, form, files, thumbnail, upload)
        with services.db.write_sessions() as session:
            agent = session.get(Agent, job.agent_id) if job.agent_id else None
            if agent is not None:
                form.provenance["agent_name"] = agent.name
            uow = UnitOfWork(
                session=session,
                hub=services.hub,
                actor=actor_uow.actor,
                request_id=actor_uow.request_id,
                remote_addr=actor_uow.remote_addr,
            )
            return versions.publish(uow, staging, services.db, root, publication).id
    except BaseException:
        staging.discard(upload)
        raise
