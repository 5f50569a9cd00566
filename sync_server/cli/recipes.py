"""`aipipe recipes list|show|create|render-ready`: render recipes over the server's HTTP API.

A recipe is a chain of farm steps (docs/api.md, "Recipes"); `create` saves the steps as the recipe's next
version (version 1 of a new name), from a JSON file or from `--step` workflow names. `render-ready` queues
the recipe of every ready shot of a project (or of the shots named) in one request. Every refusal of the
server is shown with its problem+json `detail` and ends the command with exit status 1.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from .client import ApiKey, ServerUrl, connect
from .common import AsJson, CliError, out, print_json, table
from .takes import HTTP_TIMEOUT_S, ProjectOption, TakesClient

recipes_app = typer.Typer(
    help="Render recipes: chains of farm steps (i2v -> interpolate -> upscale), and rendering ready shots.",
    no_args_is_help=True,
)
CPU_STEPS = ("transcode",)
SHORT_ID = 8


def _project(project: str | None) -> str:
    if not project:
        raise CliError("Name the project (--project).", 2)
    return project


def _steps(file: Path | None, step: list[str] | None) -> tuple[list[dict[str, Any]], str | None]:
    """The steps (and description) from a JSON file ({"steps": [...], "description": ...} or a list), or
    from workflow names (a CPU job type such as `transcode` for a CPU step)."""
    if file is not None and step:
        raise CliError("Give the steps as --file or as --step, not both.", 2)
    if file is not None:
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CliError(f"Cannot read the recipe file {file}: {exc}", 2) from exc
        if isinstance(data, list):
            return data, None
        if isinstance(data, dict) and isinstance(data.get("steps"), list):
            return data["steps"], data.get("description")
        raise CliError(f"{file}: a list of steps, or an object with 'steps'.", 2)
    if not step:
        raise CliError("Name the steps: --step WORKFLOW (repeated, in order) or --file recipe.json.", 2)
    return [
        {"label": name, "job_type": name} if name in CPU_STEPS else {"label": name, "workflow": name}
        for name in step
    ], None


def _describe(step: dict[str, Any]) -> str:
    what = step.get("workflow") or step.get("job_type") or ""
    extra = f" (fps x{step['fps_factor']:g})" if step.get("fps_factor") else ""
    return f"{what}{extra}"


@recipes_app.command("list")
def list_recipes(
    project: ProjectOption = None,
    as_json: AsJson = False,
    server: ServerUrl = None,
    api_key: ApiKey = None,
) -> None:
    """The project's recipes (the newest version of each) and their steps."""
    with connect(TakesClient, server, api_key, timeout_s=HTTP_TIMEOUT_S) as api:
        pid = api.project_id(_project(project))
        answer = api.call("GET", f"/api/projects/{pid}/recipes")
    if as_json:
        print_json(answer)
        return
    view = table("recipe", "version", "steps", "used")
    for item in answer["items"]:
        steps = " -> ".join(_describe(s) for s in item["steps"])
        view.add_row(item["name"], f"v{item['version']}", steps, "yes" if item["used"] else "")
    out().print(view)
    out().print(f"{len(answer['items'])} recipe(s).")


@recipes_app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="The recipe's name.")],
    project: ProjectOption = None,
    version: Annotated[int | None, typer.Option(help="Default: the newest.")] = None,
    as_json: AsJson = False,
    server: ServerUrl = None,
    api_key: ApiKey = None,
) -> None:
    """One recipe version: its steps, their parameters and the stage each publishes."""
    with connect(TakesClient, server, api_key, timeout_s=HTTP_TIMEOUT_S) as api:
        pid = api.project_id(_project(project))
        params = {"version": version} if version is not None else None
        answer = api.call("GET", f"/api/projects/{pid}/recipes/{name}", params=params)
    if as_json:
        print_json(answer)
        return
    versions = ", ".join(f"v{v}" for v in answer["versions"])
    out().print(f"{answer['name']} v{answer['version']} (versions: {versions})")
    if answer["description"]:
        out().print(answer["description"])
    view = table("step", "label", "runs", "params", "stage")
    for index, step in enumerate(answer["steps"]):
        view.add_row(
            str(index),
            step["label"],
            _describe(step),
            json.dumps(step["params"], ensure_ascii=False) if step["params"] else "",
            step["output_stage"],
        )
    out().print(view)


@recipes_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="The recipe's name (letters, digits, _ . -).")],
    project: ProjectOption = None,
    step: Annotated[
        list[str] | None,
        typer.Option(
            "--step", help="A workflow (or transcode) per step, in order, e.g. --step wan22_i2v_14b."
        ),
    ] = None,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="JSON: the steps, or {description, steps}.")
    ] = None,
    description: Annotated[str | None, typer.Option(help="What the recipe is for.")] = None,
    as_json: AsJson = False,
    server: ServerUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Save the steps as the recipe's next version (version 1 of a new name); older versions are kept."""
    steps, described = _steps(file, step)
    body = {"steps": steps, "description": description or described or ""}
    with connect(TakesClient, server, api_key, timeout_s=HTTP_TIMEOUT_S) as api:
        pid = api.project_id(_project(project))
        answer = api.call("PUT", f"/api/projects/{pid}/recipes/{name}", json=body)
    if as_json:
        print_json(answer)
        return
    chain = " -> ".join(_describe(s) for s in answer["steps"])
    out().print(f"Saved recipe {answer['name']} v{answer['version']}: {chain}")


@recipes_app.command("render-ready")
def render_ready(
    shots: Annotated[
        list[str] | None, typer.Argument(help="Only these shots (codes or ids); default: every ready shot.")
    ] = None,
    project: ProjectOption = None,
    recipe: Annotated[
        str | None, typer.Option(help="The recipe for every shot; default: each shot's, then the project's.")
    ] = None,
    as_json: AsJson = False,
    server: ServerUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Queue the recipe of every confirmed shot with an approved first frame and no current render."""
    with connect(TakesClient, server, api_key, timeout_s=HTTP_TIMEOUT_S) as api:
        pid = api.project_id(_project(project))
        ids = [api.shot_id(pid, ref) for ref in shots] if shots else None
        answer = api.call(
            "POST", f"/api/projects/{pid}/render-ready", json={"recipe": recipe, "shot_ids": ids}
        )
    if as_json:
        print_json(answer)
        return
    if answer["queued"]:
        view = table("shot", "recipe", "jobs")
        for item in answer["queued"]:
            jobs = " -> ".join(str(j)[:SHORT_ID] for j in item["job_ids"])
            view.add_row(item["shot_code"], f"{item['recipe']} v{item['version']}", jobs)
        out().print(view)
    if answer["skipped"]:
        view = table("shot", "not queued because")
        for item in answer["skipped"]:
            view.add_row(item["shot_code"] or str(item["shot_id"]), item["reason"])
        out().print(view)
    out().print(f"Queued {len(answer['queued'])} shot(s); {len(answer['skipped'])} not ready.")
