"""`aipipe breakdown FILE --project P`: break a script down on the server, show the draft, maybe apply it.

It speaks only the server's HTTP API (like `aipipe farm`): the server holds the LLM configuration and
the project. Without `--apply` the draft is saved for review (Blender's panel or the API); with `--apply`
it is shown and applied after a confirmation (`--yes` skips the question).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from .client import ApiKey, ServerClient, ServerUrl, connect
from .common import CliError, err, out, print_json

# The server may wait on the LLM for each part of a long script: allow far more than one request.
HTTP_TIMEOUT_S = 3600.0


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise CliError(f"{path}: no such file") from exc
    except UnicodeDecodeError as exc:
        raise CliError(
            f"{path}: not UTF-8 text (byte {exc.start}); save the script as UTF-8 and try again"
        ) from exc
    except OSError as exc:
        raise CliError(f"{path}: cannot read: {exc.strerror}") from exc


def show_draft(draft: dict[str, Any]) -> None:
    """The draft as tables: characters (and what they merge into), environments, shots."""
    content, matches = draft["content"], draft.get("matches", {})
    engine = draft["engine"] + (
        f" (template v{draft['template_version']})" if draft["template_version"] else ""
    )
    out().print(
        f"[bold]Breakdown {draft['id']}[/bold]: {draft['source_format']} via {engine}, "
        f"{len(content['scenes'])} scenes, {len(content['shots'])} shots"
    )
    characters = Table("id", "name", "aliases", "description", "into", title="Characters")
    for c in content["characters"]:
        into = f"merge into {matches[c['id']]['name']}" if c["id"] in matches else "new"
        characters.add_row(c["id"], c["name"], ", ".join(c["aliases"]), c["description"][:60], into)
    environments = Table("id", "name", "time", "weather", "into", title="Environments")
    for e in content["environments"]:
        into = f"merge into {matches[e['id']]['name']}" if e["id"] in matches else "new"
        environments.add_row(e["id"], e["name"], e["time_of_day"], e["weather"], into)
    names = {c["id"]: c["name"] for c in content["characters"]}
    shots = Table("id", "s", "preset", "who", "description", title="Shots")
    for s in content["shots"]:
        who = ", ".join(names.get(x["character_ref"], x["character_ref"]) for x in s["subjects"])
        shots.add_row(s["id"], f"{s['duration_s']:g}", s["preset"] or "", who, s["description"][:70])
    for table in (characters, environments, shots):
        out().print(table)
    for warning in draft["warnings"]:
        err().print(f"[yellow]warning:[/yellow] {warning}")


def _confirmed(question: str) -> bool:
    """The user's yes; no answer at all (input closed, as in a script) is a no that says how to skip it."""
    try:
        return typer.confirm(question, default=False, err=True)
    except typer.Abort:
        if sys.stdin.isatty():
            raise  # Ctrl-C at the prompt
        err().print("\nNo answer (the input is closed): add --yes (-y) to apply without being asked.")
        return False


def breakdown(
    file: Annotated[Path, typer.Argument(help="The script: Fountain, Korean screenplay (S#1.) or prose.")],
    project: Annotated[str, typer.Option("--project", "-p", help="Project code or id.")],
    fmt: Annotated[
        str, typer.Option("--format", help="auto, fountain, korean or prose.", show_default=True)
    ] = "auto",
    engine: Annotated[str, typer.Option(help="auto, parser (no model) or llm.", show_default=True)] = "auto",
    apply: Annotated[bool, typer.Option("--apply", help="Apply the draft after showing it.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Apply without asking.")] = False,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print only JSON on stdout: the draft (with --apply: and the result)."),
    ] = False,
    server: ServerUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Break a script down into characters, environments, scenes and shots (a draft to review)."""
    try:
        text = _read(file)
    except CliError as exc:
        err().print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    with connect(ServerClient, server, api_key, timeout_s=HTTP_TIMEOUT_S) as api:
        project_id = api.project_id(project)
        body = {"text": text, "format": fmt, "engine": engine, "source_name": file.name[:200]}
        draft = api.call("POST", f"/api/projects/{project_id}/breakdowns", json=body)
        if not as_json:
            show_draft(draft)
        if not apply:
            if as_json:
                print_json(draft)
            # Where the draft is and what to do next is a status line: stdout stays the draft.
            err().print(
                f"Draft saved: review it, then apply it (POST /api/breakdowns/{draft['id']}/apply "
                "or run again with --apply).",
                markup=False,
                highlight=False,
            )
            return
        if not yes and not _confirmed("Apply this breakdown to the project?"):
            if as_json:
                print_json(draft)
            err().print("Not applied; the draft is kept.")
            return
        applied = api.call(
            "POST", f"/api/breakdowns/{draft['id']}/apply", json={"revision": draft["revision"]}
        )
    if as_json:
        print_json({"draft": draft, "applied": applied})
        return
    n = {key: len(value) for key, value in applied["result"].items()}
    out().print(
        f"Applied: {n['scenes']} scenes, {n['shots']} shots, {n['characters_created']} new and "
        f"{n['characters_merged']} merged characters, {n['environments_created']} new and "
        f"{n['environments_merged']} merged environments."
    )
