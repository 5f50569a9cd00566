"""`aipipe shots export|import` (over the server's HTTP API) and `aipipe ingest` (on the server machine)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.table import Table

from .client import ApiKey, ServerClient, ServerUrl, connect
from .common import CliError, err, out

shots_app = typer.Typer(
    help="The shot list in Excel, CSV or JSON: export, import with a diff.", no_args_is_help=True
)
HTTP_TIMEOUT_S = 300.0

ProjectRef = Annotated[str, typer.Option("--project", "-p", help="Project code or id.")]


@contextmanager
def client(server: str | None, api_key: str | None) -> Iterator[ServerClient]:
    with connect(ServerClient, server, api_key, timeout_s=HTTP_TIMEOUT_S) as made:
        yield made


@shots_app.command("export")
def export_command(
    project: ProjectRef,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File or folder; default: here.")
    ] = None,
    kind: Annotated[str, typer.Option(help="shots, environments, characters or specs.")] = "shots",
    fmt: Annotated[str, typer.Option("--format", "-f", help="xlsx, csv or json.")] = "xlsx",
    lang: Annotated[str, typer.Option(help="Header language: en or ko.")] = "en",
    thumbnails: Annotated[bool, typer.Option(help="Embed thumbnails (xlsx).")] = True,
    server: ServerUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Export the shot list (or environments, characters, specs) of a project to a file."""
    from ..storage.atomic import atomic_write_bytes

    with client(server, api_key) as api:
        pid = api.project_id(project)
        params = {"kind": kind, "format": fmt, "lang": lang, "thumbnails": thumbnails}
        response = api.request("GET", f"/api/projects/{pid}/shotlist/export", params=params)
        disposition = response.headers.get("content-disposition", "")
        name = disposition.split("''", 1)[-1] if "''" in disposition else f"{project}_{kind}.{fmt}"
        target = output or Path.cwd()
        if target.is_dir():
            target = target / httpx.URL("/" + name).path.rsplit("/", 1)[-1]
        atomic_write_bytes(target, response.content)
        out().print(
            f"Wrote {target} ({response.headers.get('x-rows', '?')} rows, "
            f"{response.headers.get('x-thumbnails', '0')} thumbnails)."
        )


def _show(preview: dict[str, Any]) -> None:
    for problem in preview["errors"] + preview["warnings"]:
        where = ", ".join(
            str(x)
            for x in (
                problem["sheet"],
                problem["row"] and f"row {problem['row']}",
                problem["column"] and f"column '{problem['column']}'",
            )
            if x
        )
        style = "red" if problem["blocking"] else "yellow"
        out().print(f"[{style}]{'error' if problem['blocking'] else 'warning'}[/{style}] {where}: ", end="")
        out().print(problem["message"], markup=False, highlight=False)
    table = Table(title=f"{preview['filename']}: what importing would change")
    for name in ("row", "shot", "action", "field", "was", "becomes", "server now"):
        table.add_column(name)
    for row in preview["rows"]:
        fields = row["fields"] or [{"field": "", "old": "", "new": "", "server": "", "conflict": False}]
        for field in fields:
            mark = "[red]conflict[/red] " if field["conflict"] else ""
            table.add_row(
                str(row["row"] or ""),
                row["code"],
                mark + row["action"],
                field["field"],
                str(field["old"] if field["old"] is not None else ""),
                str(field["new"] if field["new"] is not None else ""),
                str(field["server"] if field["server"] is not None else ""),
            )
    if preview["rows"]:
        out().print(table)
    summary = preview["summary"]
    out().print(
        f"{summary['added']} added, {summary['changed']} changed, {summary['removed']} removed, "
        f"{summary['conflicts']} conflicting fields, {summary['unchanged']} unchanged."
    )


@shots_app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="The edited xlsx, CSV or JSON.", exists=True, dir_okay=False)],
    project: ProjectRef,
    apply: Annotated[
        bool, typer.Option("--apply", help="Apply the changes (default: only show them).")
    ] = False,
    overwrite: Annotated[
        bool,
        typer.Option("--overwrite-conflicts", help="Where the server changed a field too, the file wins."),
    ] = False,
    remove_missing: Annotated[
        bool, typer.Option("--remove-missing", help="Delete (or omit) shots that are missing from the file.")
    ] = False,
    server: ServerUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Validate FILE and show the diff; with --apply, apply it in one transaction."""
    content = file.read_bytes()
    with client(server, api_key) as api:
        pid = api.project_id(project)
        upload = {"file": (file.name, content)}
        preview = api.request("POST", f"/api/projects/{pid}/shotlist/import", files=upload).json()
        _show(preview)
        if not preview["can_apply"]:
            raise CliError(f"{preview['error_count']} error(s): nothing can be applied until they are fixed.")
        if not apply:
            out().print("Nothing applied (use --apply).")
            return
        selection: dict[str, Any] = {}
        if overwrite:
            selection["rows"] = [
                {"key": row["key"], "overwrite": [f["field"] for f in row["fields"] if f["conflict"]]}
                for row in preview["rows"]
                if row["action"] != "removed"
            ]
        if remove_missing:
            selection["remove"] = [row["key"] for row in preview["rows"] if row["action"] == "removed"]
        response = api.request(
            "POST",
            f"/api/projects/{pid}/shotlist/apply",
            files=upload,
            data={"selection": json.dumps(selection)},
        ).json()
        applied = response["applied"]
        out().print(
            f"Applied: {len(applied['created'])} created, {len(applied['updated'])} updated, "
            f"{len(applied['removed'])} removed (change set {response['change_set_id']})."
        )


# -- scan ingest (on the server machine: it reads the files where they are) ---------------------------------


def ingest_command(
    path: Annotated[
        Path, typer.Argument(help="Folder (searched recursively) or file of scans.", exists=True)
    ],
    project: ProjectRef,
    stage: Annotated[str | None, typer.Option(help="plate or reference; default from the settings.")] = None,
    copy: Annotated[
        bool, typer.Option("--copy", help="Copy into the production tree (default: in place).")
    ] = False,
    edl: Annotated[
        Path | None, typer.Option(help="CMX 3600 EDL matching scans to shots.", exists=True)
    ] = None,
    pattern: Annotated[str | None, typer.Option(help="Regex with a group 'shot' finding the code.")] = None,
    report: Annotated[
        Path | None, typer.Option(help="Scan-list workbook; default ./scan_list_<P>_<time>.xlsx")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Probe and match; register nothing.")] = False,
    lang: Annotated[str, typer.Option(help="Scan-list headers: en or ko.")] = "en",
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Data folder (env AIPIPE_DATA_DIR).")
    ] = None,
    database_url: Annotated[
        str | None, typer.Option("--database-url", help="Env AIPIPE_DATABASE_URL.")
    ] = None,
) -> None:
    """Ingest scans: find sequences and movies, probe them, match them to shots, register versions."""
    import re
    from datetime import UTC, datetime

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from ..context import SYSTEM
    from ..db.engine import make_database
    from ..db.models import Project
    from ..ingest import service
    from ..ingest.match import EdlError
    from ..ingest.settings import IngestSettings
    from .common import load_settings

    if stage not in (None, "plate", "reference"):
        err().print(f"[red]--stage must be plate or reference, not {stage!r}.[/red]")
        raise typer.Exit(2)
    settings = load_settings(data_dir, database_url)
    db = make_database(settings.resolved_database_url)
    try:
        with db.read_sessions() as session:
            found = [p for p in session.query(Project).all() if project in (p.code, str(p.id))]
            if not found:
                err().print(f"[red]No project with code or id '{project}'.[/red]")
                raise typer.Exit(1)
            target = found[0]
            pid, code = target.id, target.code
        stamp = datetime.now(UTC).strftime("%Y%m%d_%H%M%S")
        options = service.Options(
            stage=stage,
            copy=copy,
            edl=edl,
            pattern=pattern,
            dry_run=dry_run,
            report=report or Path.cwd() / f"scan_list_{code}_{stamp}.xlsx",
            lang=lang,
        )
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, console=err(), transient=True) as bar:
            tasks: dict[str, Any] = {}

            def progress(phase: str, done: int, total: int) -> None:
                if phase not in tasks:
                    tasks[phase] = bar.add_task("Probing" if phase == "probe" else "Registering", total=total)
                bar.update(tasks[phase], completed=done, total=total)

            try:
                outcome = service.ingest(
                    db, SYSTEM, settings.resolved_storage_root, pid, path, IngestSettings(), options, progress
                )
            except (EdlError, re.error) as exc:
                err().print(f"[red]Refused:[/red] {exc}")
                raise typer.Exit(1) from exc
    finally:
        db.dispose()
    table = Table(title=f"Scans in {path}")
    for name in ("scan", "frames", "shot", "result", "version", "problem"):
        table.add_column(name)
    for scan in outcome.scans:
        problem = (
            scan["problem"] or scan["corrupt"] or (f"missing {scan['missing']}" if scan["missing"] else "")
        )
        table.add_row(
            scan["name"],
            scan["frame_range"],
            scan["shot"],
            scan["result"],
            scan["version"],
            str(problem or ""),
        )
    out().print(table)
    summary = outcome.as_dict()["summary"]
    out().print(
        ", ".join(f"{count} {name}" for name, count in summary.items()) + f". Scan list: {outcome.report}"
    )
