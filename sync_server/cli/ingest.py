"""`aipipe ingest`: scans registered as versions by the server, which reads them where they are (a folder
inside its AIPIPE_INGEST_ROOTS, e.g. the studio's NAS mounted at the same path on both machines)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from .client import ApiKey, ServerClient, ServerUrl, connect
from .common import AsJson, CliError, err, out, print_json, table

HTTP_TIMEOUT_S = 3600.0  # probing and registering a day of scans is one request

ProjectRef = Annotated[str, typer.Option("--project", "-p", help="Project code or id.")]


def _server_path(path: Path) -> str:
    # The server reads the files: it gets the absolute path, as this machine sees it.
    return str(path.expanduser().absolute())


def ingest_command(
    path: Annotated[
        Path, typer.Argument(help="Folder (searched recursively) or file of scans, as the server sees it.")
    ],
    project: ProjectRef,
    stage: Annotated[str | None, typer.Option(help="plate or reference; default from the settings.")] = None,
    copy: Annotated[
        bool, typer.Option("--copy", help="Copy into the production tree (default: in place).")
    ] = False,
    edl: Annotated[Path | None, typer.Option(help="CMX 3600 EDL matching scans to shots.")] = None,
    pattern: Annotated[str | None, typer.Option(help="Regex with a group 'shot' finding the code.")] = None,
    report: Annotated[
        Path | None, typer.Option(help="Save the scan-list workbook here (it is kept on the server too).")
    ] = None,
    handle_in: Annotated[
        int, typer.Option(min=0, help="Head handle frames every scan holds before the cut.")
    ] = 0,
    handle_out: Annotated[int, typer.Option(min=0, help="Tail handle frames after the cut.")] = 0,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Probe and match; register nothing.")] = False,
    lang: Annotated[str, typer.Option(help="Scan-list headers: en or ko.")] = "en",
    as_json: AsJson = False,
    server: ServerUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Ingest scans: find sequences and movies, probe them, match them to shots, register versions."""
    from ..storage.atomic import atomic_write_bytes

    if stage not in (None, "plate", "reference"):
        err().print(f"[red]--stage must be plate or reference, not {stage!r}.[/red]")
        raise typer.Exit(2)
    body: dict[str, Any] = {"path": _server_path(path), "copy_files": copy, "dry_run": dry_run, "lang": lang}
    body |= {"handle_in": handle_in, "handle_out": handle_out} if handle_in or handle_out else {}
    body |= {"stage": stage} if stage else {}
    body |= {"edl": _server_path(edl)} if edl else {}
    body |= {"pattern": pattern} if pattern else {}
    with connect(ServerClient, server, api_key, timeout_s=HTTP_TIMEOUT_S) as api:
        pid = api.project_id(project)
        err().print(f"Asking the server to ingest {body['path']} …", markup=False, highlight=False)
        outcome = api.call("POST", f"/api/projects/{pid}/ingest", json=body)
        if report is not None and outcome.get("report"):
            name = Path(outcome["report"]).name
            workbook = api.request("GET", f"/api/projects/{pid}/ingest/reports/{name}")
            try:
                atomic_write_bytes(report, workbook.content)
            except OSError as exc:
                raise CliError(f"Cannot write {report}: {exc.strerror or exc}") from exc
    if as_json:
        print_json(outcome)
        return
    scans = table("scan", "frames", "shot", "result", "version", "problem", title=f"Scans in {path}")
    for scan in outcome["scans"]:
        problem = (
            scan["problem"] or scan["corrupt"] or (f"missing {scan['missing']}" if scan["missing"] else "")
        )
        scans.add_row(
            scan["name"],
            scan["frame_range"] or str(scan.get("frames") or ""),  # a movie: its frame count
            scan["shot"],
            scan["result"],
            scan["version"],
            str(problem or ""),
        )
    console = out()
    console.print(scans)
    summary = ", ".join(f"{count} {name}" for name, count in outcome["summary"].items())
    where = (
        f"{report} (on the server: {outcome['report']})" if report else f"{outcome['report']} on the server"
    )
    console.print(f"{summary}. Scan list: {where}", markup=False, highlight=False)
