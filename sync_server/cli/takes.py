"""`aipipe takes generate|list|use|redo`: first-frame candidates (takes) over the server's HTTP API.

Shots are named by code (with --project) or id. `generate` queues takes for one or many shots: with more
than one shot (or `--all`) it is one batch request for the project. Every refusal of the server is shown
with its problem+json `detail` and ends the command with exit status 1.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from .client import ApiKey, ServerClient, ServerUrl, connect
from .common import AsJson, CliError, out, print_json, table

takes_app = typer.Typer(
    help="Takes: first-frame candidates of shots, chosen and redone.", no_args_is_help=True
)
HTTP_TIMEOUT_S = 120.0
SHORT_ID = 8
OPERATIONS = ("generate", "refine", "edit", "inpaint", "outpaint")

ProjectOption = Annotated[str | None, typer.Option("--project", "-p", help="Project code or id.")]
VersionRef = Annotated[str, typer.Argument(help="The take: a version id.")]


class TakesClient(ServerClient):
    def shots(self, project: str) -> list[dict[str, Any]]:
        pid = self.project_id(project)
        found: list[dict[str, Any]] = []
        while True:
            page = self.call("GET", f"/api/projects/{pid}/shots", params={"limit": 500, "offset": len(found)})
            found.extend(page["items"])
            if len(found) >= page["total"] or not page["items"]:
                return found

    def shot_id(self, project: str | None, ref: str) -> str:
        """A shot id from an id, or a shot code in --project."""
        try:
            return str(uuid.UUID(ref))
        except ValueError:
            pass
        if not project:
            raise CliError(f"'{ref}' is not a shot id: name the project (--project) to find shot codes.")
        matches = [s for s in self.shots(project) if s["code"] == ref] or [
            s for s in self.shots(project) if s["code"].lower() == ref.lower()
        ]
        if not matches:
            raise CliError(f"No shot '{ref}' in project {project}.")
        return str(matches[0]["id"])


@contextmanager
def client(server: str | None, api_key: str | None) -> Iterator[TakesClient]:
    with connect(TakesClient, server, api_key, timeout_s=HTTP_TIMEOUT_S) as made:
        yield made


def _params(pairs: list[str]) -> dict[str, Any]:
    """ROLE=VALUE pairs; the value is read as JSON when it is JSON (numbers, true), else as text."""
    params: dict[str, Any] = {}
    for pair in pairs:
        role, sep, value = pair.partition("=")
        if not sep or not role:
            raise CliError(f"--param takes ROLE=VALUE, not '{pair}'.", 2)
        try:
            params[role] = json.loads(value)
        except ValueError:
            params[role] = value
    return params


@takes_app.command("generate")
def generate(
    shots: Annotated[list[str] | None, typer.Argument(help="Shot codes (with --project) or ids.")] = None,
    project: ProjectOption = None,
    all_shots: Annotated[
        bool, typer.Option("--all", help="Every shot of the project that is not omitted.")
    ] = False,
    operation: Annotated[str, typer.Option(help="generate, refine, edit, inpaint or outpaint.")] = "generate",
    workflow: Annotated[str | None, typer.Option(help="Template; default: the operation's.")] = None,
    recipe: Annotated[
        str | None,
        typer.Option(help="generate with a project recipe (its first step t2i) instead of a workflow."),
    ] = None,
    recipe_version: Annotated[
        int | None, typer.Option(help="The recipe's version; default its newest.")
    ] = None,
    candidates: Annotated[int, typer.Option("--candidates", "-n", help="Takes per shot (1-16).")] = 1,
    seed: Annotated[int | None, typer.Option(help="The first candidate's seed; default random.")] = None,
    increment: Annotated[bool, typer.Option(help="Further candidates: seed + 1, + 2 ...")] = False,
    source: Annotated[
        str | None, typer.Option(help="The take worked on (refine/edit/inpaint/outpaint).")
    ] = None,
    mask: Annotated[str | None, typer.Option(help="inpaint: a mask version id.")] = None,
    prompt: Annotated[str | None, typer.Option(help="Replaces the prompt engine's prompt.")] = None,
    instruction: Annotated[str | None, typer.Option(help="edit: what to change.")] = None,
    denoise: Annotated[float | None, typer.Option(help="refine: 0..1.")] = None,
    aspect: Annotated[str | None, typer.Option(help="outpaint: the new aspect, W:H.")] = None,
    control: Annotated[
        str | None, typer.Option(help="depth, canny or pose: the shot's newest control image.")
    ] = None,
    param: Annotated[list[str] | None, typer.Option("--param", help="ROLE=VALUE for the template.")] = None,
    priority: Annotated[int, typer.Option(help="0-100.")] = 50,
    as_json: AsJson = False,
    server: ServerUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Queue takes: one farm job per candidate."""
    if operation not in OPERATIONS:
        raise typer.BadParameter(f"one of {', '.join(OPERATIONS)}", param_hint="--operation")
    body: dict[str, Any] = {
        "operation": operation,
        "workflow": workflow,
        "recipe": recipe,
        "recipe_version": recipe_version,
        "candidates": candidates,
        "seed": seed,
        "seeds": "increment" if increment else "random",
        "prompt": prompt,
        "priority": priority,
    }
    if control:
        body["control"] = {"kind": control}
    single = {
        "source_version_id": source,
        "mask_version_id": mask,
        "instruction": instruction,
        "denoise": denoise,
        "aspect": aspect,
    }
    with client(server, api_key) as api:
        body["params"] = _params(param or [])
        if all_shots:
            if not project:
                raise CliError("--all needs --project.", 2)
            ids = [s["id"] for s in api.shots(project) if s["status"] != "omitted"]
        else:
            ids = [api.shot_id(project, ref) for ref in shots or []]
        if not ids:
            raise CliError("Name one or more shots, or --all with --project.", 2)
        if len(ids) == 1 and not all_shots:
            answer = api.call(
                "POST",
                f"/api/shots/{ids[0]}/takes",
                json={**body, **{k: v for k, v in single.items() if v is not None}},
            )
            jobs = _takes_of(answer["jobs"])
        else:
            if any(v is not None for v in single.values()) or operation != "generate":
                raise CliError("Many shots at once: only generate (without --source, --mask ...).", 2)
            if control:
                body["control_from_layout"] = True
            pid = api.project_id(project) if project else _project_of(api, ids[0])
            answer = api.call("POST", f"/api/projects/{pid}/takes", json={"shots": ids, **body})
            jobs = answer["jobs"]
    if as_json:
        print_json({"count": len(jobs), "jobs": jobs})
        return
    shot_count = len({j["shot_id"] for j in jobs})
    out().print(f"Queued {len(jobs)} take(s) for {shot_count} shot(s).")


def _takes_of(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per take as the batch answers them: its (first) job, seed and, made with a recipe, its
    chain of jobs in step order."""
    chains: dict[str, list[str]] = {}
    for job in jobs:
        first = ((job.get("take") or {}).get("provenance") or {}).get("take_first_job_id")
        if first:
            chains.setdefault(first, [first]).append(job["id"])
    return [
        {
            "id": j["id"],
            "shot_id": j["shot_id"],
            "seed": j["params"].get("seed"),
            "chain": chains.get(j["id"], []),
        }
        for j in jobs
        if not (j.get("take") or {}).get("parent_input")
    ]


def _project_of(api: TakesClient, shot_id: str) -> str:
    return str(api.call("GET", f"/api/shots/{shot_id}")["project_id"])


@takes_app.command("list")
def list_takes(
    shot: Annotated[str, typer.Argument(help="Shot code (with --project) or id.")],
    project: ProjectOption = None,
    as_json: AsJson = False,
    server: ServerUrl = None,
    api_key: ApiKey = None,
) -> None:
    """The shot's takes, newest first: version, operation, workflow, recipe, seed, verdict, first frame."""
    with client(server, api_key) as api:
        shot_id = api.shot_id(project, shot)
        page = api.call("GET", f"/api/shots/{shot_id}/takes", params={"limit": 500})
    if as_json:
        print_json(page)
        return
    view = table("take", "version", "operation", "workflow", "recipe", "seed", "verdict", "first frame")
    for item in page["items"]:
        version, provenance = item["version"], item["provenance"]
        recipe = provenance.get("recipe") if isinstance(provenance.get("recipe"), dict) else {}
        view.add_row(
            version["id"][:SHORT_ID],
            version["code"],
            str(provenance.get("operation") or ""),
            str(provenance.get("workflow") or ""),
            f"{recipe['name']} v{recipe.get('version')}" if recipe.get("name") else "",
            str(provenance.get("seed") if provenance.get("seed") is not None else ""),
            item["verdict"] or "",
            "yes" if item["is_first_frame"] else "",
        )
    out().print(view)
    out().print(f"{page['total']} take(s).")


@takes_app.command("use")
def use(
    version: VersionRef,
    note: Annotated[str | None, typer.Option(help="Kept with the approval.")] = None,
    as_json: AsJson = False,
    server: ServerUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Use the take as its shot's first frame (approves it, with the note)."""
    with client(server, api_key) as api:
        answer = api.call(
            "POST", f"/api/versions/{_version_id(version)}/use-as-first-frame", json={"note": note}
        )
    if as_json:
        print_json(answer)
        return
    out().print(f"{answer['version']['code']} is the shot's first frame now (approved).")


@takes_app.command("redo")
def redo(
    version: VersionRef,
    same_seed: Annotated[bool, typer.Option("--same-seed", help="The take's own seed again.")] = False,
    prompt: Annotated[str | None, typer.Option(help="A new prompt.")] = None,
    candidates: Annotated[int | None, typer.Option("--candidates", "-n", help="Takes to make.")] = None,
    param: Annotated[list[str] | None, typer.Option("--param", help="ROLE=VALUE to change.")] = None,
    as_json: AsJson = False,
    server: ServerUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Queue the take again: the same request and parameters, a new seed (unless --same-seed)."""
    changes: dict[str, Any] = {}
    if prompt is not None:
        changes["prompt"] = prompt
    if candidates is not None:
        changes["candidates"] = candidates
    with client(server, api_key) as api:
        if param:
            changes["params"] = _params(param)
        body = {"new_seed": not same_seed, "changes": changes or None}
        answer = api.call("POST", f"/api/versions/{_version_id(version)}/redo", json=body)
    if as_json:
        print_json(answer)
        return
    seeds = ", ".join(str(j["params"].get("seed")) for j in answer["jobs"])
    out().print(f"Queued {len(answer['jobs'])} take(s) again (seed {seeds}).")


def _version_id(ref: str) -> str:
    try:
        return str(uuid.UUID(ref))
    except ValueError as exc:
        raise CliError(f"'{ref}' is not a version id.", 2) from exc
