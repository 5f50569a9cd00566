"""`aipipe editorial`: export the edit and make the proxy movie, through the server's HTTP API."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from .client import ApiKey, ServerClient, ServerUrl, connect
from .common import AsJson, CliError, err, out, print_json

editorial_app = typer.Typer(
    help="Edit exchange (EDL / FCP XML / OTIO) and proxy movies.", no_args_is_help=True
)
FORMATS = ("otio", "cmx_3600", "fcp_xml")
HTTP_TIMEOUT_S = 120.0
POLL_S = 1.0  # how often `proxy` asks how the render goes
PROXY_WAIT_S = 6 * 3600.0

ProjectArg = Annotated[str, typer.Argument(help="Project code or id.")]


@editorial_app.command("export")
def export(
    project: ProjectArg,
    dest: Annotated[Path, typer.Option("--out", help="File to write (atomically).")],
    fmt: Annotated[str, typer.Option("--format", help="otio, cmx_3600 (EDL) or fcp_xml.")] = "cmx_3600",
    record_start: Annotated[
        str | None,
        typer.Option("--record-start", help="Default: the server's AIPIPE_EDITORIAL_RECORD_START."),
    ] = None,
    server: ServerUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Write the project's edit (shots in order) as an EDL, an FCP 7 XML or an OTIO file."""
    from ..storage.atomic import atomic_write_bytes

    if fmt not in FORMATS:
        err().print(f"[red]--format[/red] must be one of {', '.join(FORMATS)}, not '{fmt}'.")
        raise typer.Exit(2)
    params = {"format": fmt} | ({"record_start": record_start} if record_start else {})
    with connect(ServerClient, server, api_key, timeout_s=HTTP_TIMEOUT_S) as api:
        pid = api.project_id(project)
        response = api.request("GET", f"/api/projects/{pid}/editorial", params=params)
        try:
            atomic_write_bytes(dest, response.content)
        except OSError as exc:
            raise CliError(f"Cannot write {dest}: {exc.strerror or exc}") from exc
    out().print(f"Wrote {dest} ({fmt}).", markup=False, highlight=False)
    for warning in json.loads(response.headers.get("x-edit-warnings") or "[]"):  # shots short of the cut
        err().print(f"warning: {warning}", style="yellow", markup=False, highlight=False)


def _wait(api: ServerClient, render: dict[str, Any]) -> dict[str, Any]:
    deadline = time.monotonic() + PROXY_WAIT_S
    while render["status"] in ("queued", "running"):
        if time.monotonic() > deadline:
            raise CliError(f"Proxy v{render['number']:03d} still {render['status']}; stopped waiting.")
        time.sleep(POLL_S)  # polling a remote server from a one-shot command; the server does not wait
        render = api.call("GET", f"/api/editorial/proxies/{render['id']}")
    return render


@editorial_app.command("proxy")
def proxy(
    project: ProjectArg,
    download: Annotated[
        Path | None, typer.Option("--download", help="Also save the finished movie here.")
    ] = None,
    as_json: AsJson = False,
    server: ServerUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Render the proxy movie into edit/proxy/vNNN/ on the server and wait for it (only changed shots
    are encoded)."""
    with connect(ServerClient, server, api_key, timeout_s=HTTP_TIMEOUT_S) as api:
        pid = api.project_id(project)
        queued = api.call("POST", f"/api/projects/{pid}/editorial/proxies")
        if queued["status"] == "succeeded":  # the edit is unchanged since that proxy: the server ran nothing
            said = f"Proxy v{queued['number']:03d} already shows this edit; nothing to render."
        else:
            said = f"Proxy v{queued['number']:03d} {queued['status']}; waiting for it."
        err().print(said, markup=False, highlight=False)
        done = _wait(api, queued)
        if done["status"] != "succeeded":
            raise CliError(f"Proxy v{done['number']:03d} failed: {done['error']}")
        if download is not None:
            _download(api, done, download)
    if as_json:
        print_json(done)
        return
    console = out()
    console.print(
        f"Proxy {done['path']} (under the storage root): {done['frames']} frames; "
        f"{done['encoded']} shots encoded, {done['reused']} joined from the cache.",
        markup=False,
        highlight=False,
    )
    for warning in done.get("warnings") or []:
        err().print(f"warning: {warning}", style="yellow", markup=False, highlight=False)


def _download(api: ServerClient, render: dict[str, Any], dest: Path) -> None:
    from ..storage.atomic import atomic_write_bytes

    response = api.request("GET", f"/api/editorial/proxies/{render['id']}/movie")
    try:
        atomic_write_bytes(dest, response.content)
    except OSError as exc:
        raise CliError(f"Cannot write {dest}: {exc.strerror or exc}") from exc
    err().print(f"Saved the movie as {dest}.", markup=False, highlight=False)
