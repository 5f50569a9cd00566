"""`aipipe project archive`: the server zips a project's folder and records; the zip can be downloaded.
`aipipe project verify` checks a zip against its MANIFEST.sha256 (no server needed)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .client import ApiKey, ServerClient, ServerUrl, connect
from .common import AsJson, CliError, die, err, out, print_json, size_text

if TYPE_CHECKING:
    from ..projects.archive_manifest import ArchiveCheck

project_app = typer.Typer(help="Project tools.", no_args_is_help=True)
HTTP_TIMEOUT_S = 6 * 3600.0  # a project's media can take long to zip and to download


def _download(api: ServerClient, path: str, dest: Path) -> Path:
    """Stream the zip into `dest` (a folder gets the archive's own name) through a temporary file."""
    from ..storage.atomic import new_file_mode

    name = path.rsplit("/", 1)[-1]
    target = dest / name if dest.is_dir() else dest
    if target.exists():
        raise CliError(f"{target} already exists; choose another --download (archives are never overwritten)")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle, api.http.stream("GET", path) as response:
            if response.is_error:
                response.read()
                api.request("GET", path)  # raises the server's refusal
            for chunk in response.iter_bytes():
                handle.write(chunk)
        os.chmod(temp, new_file_mode())
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return target


@project_app.command("archive")
def project_archive(
    project: Annotated[str, typer.Argument(help="Project code or id, e.g. NIGHT_ALLEY.")],
    download: Annotated[
        Path | None, typer.Option("--download", help="Also save the zip here (a file or a folder).")
    ] = None,
    as_json: AsJson = False,
    server: ServerUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Zip a project's folder (config, assets, versions, edit) with a JSON export of its records, on the
    server in <data dir>/archives/ (needs the admin role)."""
    if download is not None and download.exists() and not download.is_dir():
        die(f"{download} already exists; choose another --download (archives are never overwritten)")
    with connect(ServerClient, server, api_key, timeout_s=HTTP_TIMEOUT_S) as api:
        pid = api.project_id(project)
        err().print("The server is archiving the project …", markup=False, highlight=False)
        made: dict[str, Any] = api.call("POST", f"/api/projects/{pid}/archive")
        saved = _download(api, f"/api/projects/{pid}/archives/{made['name']}", download) if download else None
    if as_json:
        print_json(made | ({"downloaded_to": str(saved)} if saved else {}))
        return
    console = out()
    console.print(
        f"Archived project {made['project_code']} to {made['path']} on the server "
        f"({made['files']} files, {size_text(made['bytes_in'])} in, {size_text(made['size'])} zip).",
        markup=False,
        highlight=False,
    )
    if saved:
        console.print(f"Downloaded to {saved}.", markup=False, highlight=False)
    for path in made["missing"]:
        err().print(f"Listed in the database but not on disk: {path}", style="yellow", markup=False)
    for path in made["skipped"]:
        err().print(f"Skipped (symlink or deleted meanwhile): {path}", style="yellow", markup=False)


@project_app.command("verify")
def project_verify(
    archive: Annotated[Path, typer.Argument(help="A zip made by `aipipe project archive`.")],
    as_json: AsJson = False,
) -> None:
    """Check every file of a project archive against its MANIFEST.sha256 (no server needed); names each
    missing, changed or unlisted file and exits 1 if there is any."""
    from ..projects.archive_manifest import ManifestError, verify_archive

    try:
        check = verify_archive(archive)
    except ManifestError as exc:
        die(str(exc))
    if as_json:
        print_json({"path": str(check.path), "ok": check.ok, "files": check.files} | _problems(check))
    else:
        for kind, paths in _problems(check).items():
            for path in paths:
                err().print(f"{kind.capitalize()}: {path}", style="red", markup=False, highlight=False)
        if check.ok:
            out().print(f"{archive}: all {check.files} files match MANIFEST.sha256.", markup=False)
        else:
            err().print(f"{archive} does not match its MANIFEST.sha256.", markup=False, highlight=False)
    if not check.ok:
        raise typer.Exit(1)


def _problems(check: ArchiveCheck) -> dict[str, list[str]]:
    return {"missing": check.missing, "changed": check.changed, "extra": check.extra}
