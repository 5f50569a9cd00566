"""`aipipe shots export|import`: the shot list as a file, over the server's HTTP API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from .client import ApiKey, ServerClient, ServerUrl, connect
from .common import AsJson, CliError, err, out, print_json, table

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
    changes = table(
        "row", "shot", "action", "field", "was", "becomes", "server now",
        title=f"{preview['filename']}: what importing would change",
    )  # fmt: skip
    for row in preview["rows"]:
        fields = row["fields"] or [{"field": "", "old": "", "new": "", "server": "", "conflict": False}]
        for field in fields:
            mark = "[red]conflict[/red] " if field["conflict"] else ""
            changes.add_row(
                str(row["row"] or ""),
                row["code"],
                mark + row["action"],
                field["field"],
                str(field["old"] if field["old"] is not None else ""),
                str(field["new"] if field["new"] is not None else ""),
                str(field["server"] if field["server"] is not None else ""),
            )
    if preview["rows"]:
        out().print(changes)
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
    as_json: AsJson = False,
    server: ServerUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Validate FILE and show the diff; with --apply, apply it in one transaction."""
    content = file.read_bytes()
    with client(server, api_key) as api:
        pid = api.project_id(project)
        upload = {"file": (file.name, content)}
        preview = api.request("POST", f"/api/projects/{pid}/shotlist/import", files=upload).json()
        if as_json and (not apply or not preview["can_apply"]):
            print_json({"preview": preview})
        elif not as_json:
            _show(preview)
        if not preview["can_apply"]:
            raise CliError(f"{preview['error_count']} error(s): nothing can be applied until they are fixed.")
        if not apply:
            err().print("Nothing applied (use --apply).")
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
        if as_json:
            print_json({"preview": preview, "result": response})
            return
        applied = response["applied"]
        out().print(
            f"Applied: {len(applied['created'])} created, {len(applied['updated'])} updated, "
            f"{len(applied['removed'])} removed (change set {response['change_set_id']})."
        )
