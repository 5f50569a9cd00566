"""/api/projects/{project_id}/archive[s]: a project's folder and records zipped on the server (into
`<data dir>/archives/`), and the zip downloaded."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse

from ..auth.permissions import Permission as P
from ..crud import get_or_404
from ..db.models import Project
from ..deps import ServicesDep, require
from ..errors import NotFound, Unprocessable
from ..schemas import Output
from ..storage.layout import project_folder
from .archive import ARCHIVES_DIR, ArchiveError, archive_project

router = APIRouter(tags=["projects"])
Admin = Depends(require(P.PROJECT_ADMIN))


class ArchiveOut(Output):
    name: str
    path: str
    project_code: str
    folder: str
    files: int
    bytes_in: int
    size: int
    missing: list[str]
    skipped: list[str]


@router.post(
    "/projects/{project_id}/archive",
    response_model=ArchiveOut,
    dependencies=[Admin],
    operation_id="archive_project",
)
def make_archive(project_id: uuid.UUID, services: ServicesDep) -> ArchiveOut:
    """Zip the project's folder with a JSON export of its records (runs in a worker thread)."""
    with services.db.read_sessions() as session:
        code = get_or_404(session, Project, project_id, "project").code
    try:
        made = archive_project(services.settings, code)
    except ArchiveError as exc:
        raise Unprocessable(str(exc), field="project_id") from exc
    return ArchiveOut(
        name=made.path.name,
        path=str(made.path),
        project_code=made.project_code,
        folder=made.folder,
        files=made.files,
        bytes_in=made.bytes_in,
        size=made.size,
        missing=made.missing,
        skipped=made.skipped,
    )


@router.get(
    "/projects/{project_id}/archives/{name}",
    response_class=FileResponse,
    dependencies=[Admin],
    responses={200: {"content": {"application/zip": {}}}},
    operation_id="download_project_archive",
)
def download_archive(project_id: uuid.UUID, name: str, services: ServicesDep) -> FileResponse:
    """An archive of this project made by POST .../archive (by its `name`)."""
    with services.db.read_sessions() as session:
        folder = project_folder(get_or_404(session, Project, project_id, "project"))
    # Only this project's archives, by plain name: nothing else in the data folder is served.
    if not re.fullmatch(rf"{re.escape(folder)}-\d{{8}}T\d{{6}}Z\.zip", name):
        raise NotFound(f"No archive '{name}' of this project.", field="name")
    path = Path(services.settings.data_dir, ARCHIVES_DIR, name)
    if not path.is_file():
        raise NotFound(f"No archive '{name}' of this project.", field="name")
    return FileResponse(path, media_type="application/zip", filename=name)
