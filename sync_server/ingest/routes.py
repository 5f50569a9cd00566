"""/api/projects/{project_id}/ingest: scans from a folder the server may read (AIPIPE_INGEST_ROOTS), and
/api/projects/{project_id}/ingest/reports/{name}: the scan-list workbook an ingest wrote."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse
from pydantic import Field

from ..auth.permissions import Permission as P
from ..context import Principal
from ..crud import get_or_404
from ..db.models import Project
from ..deps import ServicesDep, require
from ..errors import Forbidden, NotFound, Unprocessable
from ..schemas import Input
from . import service
from .match import EdlError
from .settings import IngestSettings

router = APIRouter(tags=["ingest"])
REPORTS_DIR = "ingest"  # under the data folder
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class IngestBody(Input):
    path: str = Field(description="A folder or file on the server, inside one of AIPIPE_INGEST_ROOTS.")
    stage: Literal["plate", "reference"] | None = None
    copy_files: bool = Field(
        default=False, description="Copy into the production tree (default: leave in place)."
    )
    edl: str | None = Field(default=None, description="An EDL on the server to match scans to shots.")
    pattern: str | None = Field(
        default=None, description="Regex with a group `shot` finding the code in a name."
    )
    handle_in: int = Field(
        default=0, ge=0, le=100_000, description="Head handle frames every scan holds before the cut."
    )
    handle_out: int = Field(default=0, ge=0, le=100_000, description="Tail handle frames after the cut.")
    dry_run: bool = False
    lang: Literal["en", "ko"] = "en"


def ingest_settings(request: Request) -> IngestSettings:
    found = getattr(request.app.state, "ingest_settings", None)
    if found is None:
        found = request.app.state.ingest_settings = IngestSettings()
    return found


def _inside_roots(text: str, settings: IngestSettings, field: str) -> Path:
    if not settings.roots:
        raise Forbidden(
            "Ingest over the API is off: set AIPIPE_INGEST_ROOTS to the folders it may read.", field=field
        )
    path = Path(text).resolve()
    for root in settings.roots:
        if path == root.resolve() or root.resolve() in path.parents:
            if not path.exists():
                raise Unprocessable(f"{text} does not exist.", field=field)
            return path
    raise Forbidden(
        f"{text} is not inside the ingest roots ({', '.join(map(str, settings.roots))}).", field=field
    )


@router.post("/projects/{project_id}/ingest", operation_id="ingest_scans")
def ingest_scans(
    project_id: uuid.UUID,
    body: IngestBody,
    services: ServicesDep,
    settings: Annotated[IngestSettings, Depends(ingest_settings)],
    principal: Annotated[Principal, Depends(require(P.SHOT_EDIT))],
) -> dict[str, Any]:
    """Find sequences and movies, probe them, match them to shots, register versions, write the scan list."""
    root = _inside_roots(body.path, settings, "path")
    edl = _inside_roots(body.edl, settings, "edl") if body.edl else None
    with services.db.read_sessions() as session:
        project = get_or_404(session, Project, project_id, "project")
        code = project.code
    stamp = datetime.now(UTC).strftime("%Y%m%d_%H%M%S")
    report = services.settings.data_dir / REPORTS_DIR / f"scan_list_{code}_{stamp}.xlsx"
    options = service.Options(
        stage=body.stage,
        copy=body.copy_files,
        edl=edl,
        pattern=body.pattern,
        dry_run=body.dry_run,
        handles=(body.handle_in, body.handle_out),
        report=report,
        lang=body.lang,
    )
    try:
        outcome = service.ingest(
            services.db,
            principal,
            services.settings.resolved_storage_root,
            project_id,
            root,
            settings,
            options,
        )
    except EdlError as exc:
        raise Unprocessable(str(exc), field="edl") from exc
    except re.error as exc:
        raise Unprocessable(f"pattern is not a valid regex: {exc}", field="pattern") from exc
    return outcome.as_dict()


@router.get(
    "/projects/{project_id}/ingest/reports/{name}",
    response_class=FileResponse,
    responses={200: {"content": {XLSX: {}}}},
    operation_id="download_scan_list",
)
def download_scan_list(
    project_id: uuid.UUID,
    name: str,
    services: ServicesDep,
    principal: Annotated[Principal, Depends(require(P.SHOT_EDIT))],
) -> FileResponse:
    """The scan list an ingest of this project wrote (its name is in the ingest's answer, `report`)."""
    with services.db.read_sessions() as session:
        code = get_or_404(session, Project, project_id, "project").code
    # Only this project's scan lists, and only plain names: nothing else in the data folder is served.
    if not re.fullmatch(rf"scan_list_{re.escape(code)}_\d{{8}}_\d{{6}}\.xlsx", name):
        raise NotFound(f"No scan list '{name}' for project {code}.", field="name")
    path = services.settings.data_dir / REPORTS_DIR / name
    if not path.is_file():
        raise NotFound(f"No scan list '{name}' for project {code}.", field="name")
    return FileResponse(path, media_type=XLSX, filename=name)
