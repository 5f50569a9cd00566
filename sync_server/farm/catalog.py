"""Where workflow templates come from: the shipped `workflows/` folder, then the configured folders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aipipe_shared.workflows import TemplateCatalog, WorkflowTemplate, load_templates

from ..errors import NotFound, Unprocessable
from ..settings import Settings

SHIPPED = Path(__file__).resolve().parents[2] / "workflows"


def template_folders(settings: Settings) -> list[Path]:
    return [p for p in (SHIPPED, *settings.workflow_dirs) if p.is_dir()]


def catalog(settings: Settings) -> TemplateCatalog:
    """Read the templates now: a file dropped into a folder is available to the next job."""
    return load_templates(template_folders(settings))


def template(settings: Settings, name: str, field: str = "workflow") -> WorkflowTemplate:
    found = catalog(settings)
    if name in found.templates:
        return found.templates[name]
    broken = [str(p) for p in found.problems if name in str(p)]
    if broken:
        raise Unprocessable(f"workflow '{name}' is broken: {'; '.join(broken)}", field=field)
    raise NotFound(f"no workflow named '{name}'; known: {', '.join(sorted(found.templates))}", field=field)


def model_key(tpl: WorkflowTemplate) -> str:
    """What must be resident on the GPU for this template: its first model file, else its name."""
    return tpl.meta.models[0] if tpl.meta.models else tpl.name


def chosen_workflow(requested: str | None, shot: Any, project: Any, server_default: str) -> tuple[str, str]:
    """The workflow a render uses and where that choice was made (the field an error names): the request,
    else the shot's own choice, else the project's default, else the server's AIPIPE_RENDER_WORKFLOW."""
    if requested:
        return requested, "workflow"
    if shot.render_workflow:
        return shot.render_workflow, "shot.render_workflow"
    if project.render_workflow:
        return project.render_workflow, "project.render_workflow"
    return server_default, "AIPIPE_RENDER_WORKFLOW"
