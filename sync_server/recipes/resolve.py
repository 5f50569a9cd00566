"""A recipe step's input is its parent's output, known only once the parent has published it: when the
step is claimed, its `video`/`image` input becomes the parent's published version file (url, sha256,
version id; the agent downloads it from the server, wherever the parent ran) and, where the step says so,
its fps the parent file's fps times the step's factor (read from the version's media metadata).

Resolved again at every claim: a parent retried since has published another version.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aipipe_shared.framerate import FrameRateError, parse_fps

from ..db.models import Job, Version, VersionFile

FILE_MIME = {"video": "video/", "image": "image/"}


def needs_parent(take: Mapping[str, Any] | None) -> bool:
    return bool(take and take.get("parent_input"))


def _fps(media: Mapping[str, Any] | None) -> float | None:
    value = (media or {}).get("fps")
    if value is None:
        return None
    try:
        num, den = parse_fps(value)
    except FrameRateError:
        return None
    return num / den


def resolve(session: Session, rows: list[Mapping[str, Any]]) -> dict[uuid.UUID, dict[str, Any]]:
    """For each job row whose input comes from its parent: the new `inputs`, `params`, `graph` and `take`
    with the parent's published file in. A parent without a published file leaves the job as it is (the
    agent fails it as an input error naming the missing url)."""
    wanted = [row for row in rows if needs_parent(row.get("take"))]
    if not wanted:
        return {}
    parent_ids = {uuid.UUID(row["take"]["parent_input"]["job_id"]) for row in wanted}
    versions = dict(
        session.execute(select(Job.id, Job.version_id).where(Job.id.in_(parent_ids))).tuples().all()
    )
    version_ids = {v for v in versions.values() if v is not None}
    files: dict[uuid.UUID, list[VersionFile]] = {}
    numbers: dict[uuid.UUID, tuple[str, int]] = {}
    if version_ids:
        for file in session.scalars(
            select(VersionFile)
            .where(VersionFile.version_id.in_(version_ids))
            .order_by(VersionFile.version_id, VersionFile.position)
        ):
            files.setdefault(file.version_id, []).append(file)
        for vid, stage, number in session.execute(
            select(Version.id, Version.stage, Version.number).where(Version.id.in_(version_ids))
        ):
            numbers[vid] = (stage, number)
    resolved: dict[uuid.UUID, dict[str, Any]] = {}
    for row in wanted:
        spec = row["take"]["parent_input"]
        parent_id = uuid.UUID(spec["job_id"])
        version_id = versions.get(parent_id)
        kind = spec.get("role") or "video"
        file = (
            next(
                (f for f in files.get(version_id, []) if f.mime.startswith(FILE_MIME.get(kind, "video/"))),
                None,
            )
            if version_id is not None
            else None
        )
        if file is None or version_id is None:
            continue
        url = f"/api/versions/{version_id}/files/{file.id}"
        inputs = [dict(i) for i in row.get("inputs") or []]
        params = dict(row.get("params") or {})
        graph = copy.deepcopy(row.get("graph")) if row.get("graph") else row.get("graph")
        for item in inputs:
            if item.get("role") == kind:
                item.update(name=file.name, url=url, sha256=file.sha256, version_id=str(version_id))
                for node_id, input_name in item.get("targets") or [] if graph is not None else []:
                    graph[node_id]["inputs"][input_name] = file.name  # the agent puts its upload there
        if graph is None:  # a CPU step (ffmpeg) reads its source from its params
            params.update(input_url=url, input_sha256=file.sha256)
        factor = spec.get("fps_factor")
        source_fps = _fps(file.media)
        if factor and source_fps and graph is not None:
            fps = round(source_fps * float(factor), 6)
            params["fps"] = fps
            for node_id, input_name in spec.get("fps_targets") or []:
                graph[node_id]["inputs"][input_name] = fps
        stage, number = numbers.get(version_id, ("", 0))
        take = copy.deepcopy(dict(row["take"]))
        take.setdefault("provenance", {}).update(
            parent_version_id=str(version_id),
            parent_version=f"{stage} v{number:03d}",
            parent_fps=source_fps,
        )
        resolved[row["id"]] = {"inputs": inputs, "params": params, "graph": graph, "take": take}
    return resolved
