"""`aipipe dailies make|list`: a day's versions as a reel with slates and a contact sheet, through the
server's HTTP API (docs/api.md, "Dailies")."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from .client import ApiKey, ServerClient, ServerUrl, connect
from .common import AsJson, CliError, err, out, print_json, table

dailies_app = typer.Typer(
    help="Dailies: a day's versions as a reel and a contact sheet.", no_args_is_help=True
)
HTTP_TIMEOUT_S = 120.0
POLL_S = 1.0  # how often `make --wait` asks how the job goes
WAIT_S = 6 * 3600.0

ProjectArg = Annotated[str, typer.Argument(help="Project code or id.")]
DateOption = Annotated[
    str | None, typer.Option("--date", help="The day, YYYY-MM-DD (studio time zone); default: today.")
]


def _wait(api: ServerClient, dailies: dict[str, Any]) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_S
    while dailies["status"] in ("queued", "running"):
        if time.monotonic() > deadline:
            raise CliError(f"Dailies {dailies['day']} v{dailies['number']:03d} still {dailies['status']}.")
        time.sleep(POLL_S)  # polling a remote server from a one-shot command; the server does not wait
        dailies = api.call("GET", f"/api/dailies/{dailies['id']}")
    return dailies


def _save(api: ServerClient, dailies: dict[str, Any], folder: Path) -> None:
    from ..storage.atomic import atomic_write_bytes

    for entry in dailies["files"]:
        dest = folder / entry["name"]
        response = api.request("GET", entry["url"])
        try:
            atomic_write_bytes(dest, response.content)
        except OSError as exc:
            raise CliError(f"Cannot write {dest}: {exc.strerror or exc}") from exc
        err().print(f"Saved {dest}.", markup=False, highlight=False)


@dailies_app.command("make")
def make(
    project: ProjectArg,
    date: DateOption = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the farm to make the reel.")] = False,
    download: Annotated[
        Path | None,
        typer.Option("--download", help="A folder to save the reel and sheet in (implies --wait)."),
    ] = None,
    as_json: AsJson = False,
    server: ServerUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Queue the dailies of one day: every version made that day, by shot in edit order."""
    with connect(ServerClient, server, api_key, timeout_s=HTTP_TIMEOUT_S) as api:
        pid = api.project_id(project)
        dailies = api.call("POST", f"/api/projects/{pid}/dailies", json={"date": date} if date else {})
        label = f"Dailies {dailies['day']} v{dailies['number']:03d}"
        err().print(
            f"{label} queued: {dailies['versions']} versions (farm job {dailies['job_id']}).",
            markup=False,
            highlight=False,
        )
        if wait or download is not None:
            dailies = _wait(api, dailies)
            if dailies["status"] != "succeeded":
                raise CliError(f"{label} {dailies['status']}: {dailies['error']}")
            if download is not None:
                download.mkdir(parents=True, exist_ok=True)
                _save(api, dailies, download)
    if as_json:
        print_json(dailies)
        return
    out().print(
        f"{label}: {dailies['status']}, {dailies['versions']} versions, folder {dailies['path']}.",
        markup=False,
        highlight=False,
    )


@dailies_app.command("list")
def list_dailies(
    project: ProjectArg,
    date: DateOption = None,
    as_json: AsJson = False,
    server: ServerUrl = None,
    api_key: ApiKey = None,
) -> None:
    """The project's dailies, newest day first."""
    with connect(ServerClient, server, api_key, timeout_s=HTTP_TIMEOUT_S) as api:
        pid = api.project_id(project)
        rows = api.call("GET", f"/api/projects/{pid}/dailies", params={"date": date} if date else {})
    if as_json:
        print_json(rows)
        return
    shown = table("Day", "Make", "Trigger", "Status", "Versions", "Frames", "Folder")
    for row in rows:
        shown.add_row(
            row["day"],
            f"v{row['number']:03d}",
            row["trigger"],
            row["status"],
            str(row["versions"]),
            str(row["frames"]),
            row["path"],
        )
    out().print(shown)
