"""The layout's depth video as a render's control video: which version, checked against what the workflow
needs (core LoadVideo cannot resample, so the clip must already be at the workflow's rate and at least its
length), and the job input and provenance it becomes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aipipe_shared.workflows import WorkflowTemplate, role_targets

from ..db.models import Shot, Version, VersionFile
from ..errors import Unprocessable
from ..versions.media import probe
from .schemas import LayoutControl

LAYOUT_STAGES = ("playblast", "control")
FIELD = "layout_control"


@dataclass(frozen=True)
class ControlVideo:
    """The job input of a layout control and what the render's provenance says about it."""

    input: dict[str, Any]
    provenance: dict[str, Any]


def _video(version: Version) -> VersionFile | None:
    return next((f for f in version.files if f.mime.startswith("video/")), None)


def _is_layout_depth(version: Version, kind: str) -> bool:
    return (
        version.stage in LAYOUT_STAGES
        and version.provenance.get("control_kind") == kind
        and _video(version) is not None
    )


def _approved(session: Session, version: Version) -> bool:
    """Reviewed: the depth video approved itself, or the layout version it shows (`layout_version_id`)."""
    if version.verdict == "approve":
        return True
    layout_id = version.provenance.get("layout_version_id")
    try:
        layout = session.get(Version, uuid.UUID(str(layout_id))) if layout_id else None
    except ValueError:
        return False
    return layout is not None and layout.shot_id == version.shot_id and layout.verdict == "approve"


def _newest_approved(session: Session, shot: Shot, kind: str) -> Version:
    for version in session.scalars(
        select(Version)
        .where(Version.shot_id == shot.id, Version.stage.in_(LAYOUT_STAGES))
        .order_by(Version.created_at.desc(), Version.number.desc())
    ):
        if _is_layout_depth(version, kind) and _approved(session, version):
            return version
    raise Unprocessable(
        f"shot {shot.code} has no approved layout {kind} video yet: approve the layout (or its {kind} "
        "video: a playblast or control version with provenance control_kind "
        f"'{kind}' holding a video), or name one in layout_control.version_id",
        field=f"{FIELD}.version_id",
    )


def _chosen(session: Session, shot: Shot, control: LayoutControl) -> Version:
    where = f"{FIELD}.version_id"
    if control.version_id is None:
        return _newest_approved(session, shot, control.kind)
    version = session.get(Version, control.version_id)
    if version is None or version.shot_id != shot.id:
        raise Unprocessable(f"no version {control.version_id} of shot {shot.code}", field=where)
    if version.stage not in LAYOUT_STAGES:
        raise Unprocessable(
            f"version {version.id} is a {version.stage} version, not a playblast or control", field=where
        )
    if _video(version) is None:
        raise Unprocessable(f"version {version.id} holds no video", field=where)
    found = version.provenance.get("control_kind")
    if found != control.kind:
        raise Unprocessable(
            f"version {version.id} is not a {control.kind} video (its provenance control_kind is {found!r})",
            field=where,
        )
    if version.verdict == "reject":
        raise Unprocessable(f"version {version.id} was rejected in review", field=where)
    return version


def _rate(text: Any) -> Fraction | None:
    try:
        return Fraction(str(text)) if text not in (None, "") else None
    except (ValueError, ZeroDivisionError):
        return None


def _media(file: VersionFile, storage_root: Path) -> dict[str, Any]:
    """The clip's rate and frame count: as probed (PyAV) when it was published, else probed now."""
    media = dict(file.media or {})
    if _rate(media.get("fps")) is None or not isinstance(media.get("frames"), int):
        ext = file.name.rsplit(".", 1)[-1].lower() if "." in file.name else ""
        media = probe(storage_root / file.path, ext)
    return media


def _needed(template: WorkflowTemplate, params: dict[str, Any], role: str) -> Any:
    if role in params:
        return params[role]
    targets = template.meta.bindings.get(role) or []  # type: ignore[call-overload]
    if not targets:
        return None
    node, name = targets[0]
    return template.graph[node]["inputs"].get(name)


def control_video(
    session: Session,
    shot: Shot,
    template: WorkflowTemplate,
    control: LayoutControl | None,
    params: dict[str, Any],
    storage_root: Path,
) -> ControlVideo:
    """The layout video a render of `template` follows (422 naming the field when it cannot)."""
    if "control_video" not in template.roles:
        raise Unprocessable(
            f"workflow '{template.name}' takes no control video, so it cannot follow a layout: choose a "
            "control-video workflow (e.g. wan22_14b_fun_control)",
            field=FIELD,
        )
    if control is None:
        raise Unprocessable(
            f"workflow '{template.name}' follows the shot's layout: give layout_control", field=FIELD
        )
    version = _chosen(session, shot, control)
    file = _video(version)
    assert file is not None
    media = _media(file, storage_root)
    rate, frames = _rate(media.get("fps")), media.get("frames")
    fps, length = _needed(template, params, "fps"), _needed(template, params, "length")
    where = f"{FIELD}.version_id"
    if rate is None or not isinstance(frames, int):
        raise Unprocessable(f"version {version.id}'s video has no readable frame rate or count", field=where)
    if isinstance(fps, int | float) and abs(float(rate) - float(fps)) > 1e-3:
        raise Unprocessable(
            f"the layout video runs at {float(rate):g} fps; workflow '{template.name}' renders at "
            f"{fps:g} fps and its LoadVideo cannot resample: render the playblast at {fps:g} fps",
            field=where,
            needed_fps=fps,
            video_fps=float(rate),
        )
    if isinstance(length, int) and frames < length:
        raise Unprocessable(
            f"the layout video has {frames} frames; the render needs {length} (at {fps:g} fps): render the "
            f"playblast with at least {length} frames",
            field=where,
            needed_frames=length,
            video_frames=frames,
        )
    ext = file.name.rsplit(".", 1)[-1] if "." in file.name else "mp4"
    name = f"{shot.code}_layout_{control.kind}_{version.stage}_v{version.number:03d}.{ext}"
    job_input = {  # as farm.render.version_input makes it (that module imports this one)
        "role": "control_video",
        "name": name,
        "url": f"/api/versions/{version.id}/files/{file.id}",
        "sha256": file.sha256,
        "version_id": str(version.id),
        "targets": role_targets(template, "control_video"),
    }
    layout_id = version.provenance.get("layout_version_id") or str(version.id)
    provenance = {
        "layout_version_id": str(layout_id),
        "layout_control": {
            "kind": control.kind,
            "version_id": str(version.id),
            "stage": version.stage,
            "number": version.number,
            "verdict": version.verdict,
            "fps": str(rate),
            "frames": frames,
            "frames_used": length,
        },
    }
    return ControlVideo(job_input, provenance)
