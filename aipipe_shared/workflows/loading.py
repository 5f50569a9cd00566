"""Loading templates from folders and the static checks that need no node catalogue."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .model import (
    DERIVABLE_ROLES,
    FLOAT_ROLES,
    INPUT_FILE_ROLES,
    INT_ROLES,
    GraphProblem,
    TemplateCatalog,
    TemplateError,
    TemplateMeta,
    WorkflowTemplate,
    is_link,
    is_model_input,
)

log = logging.getLogger(__name__)


# ---- loading --------------------------------------------------------------------------------------
def sidecar_path(graph_path: Path) -> Path:
    """`x.json` -> `x.meta.json`."""
    return graph_path.with_name(graph_path.stem + ".meta.json")


def find_template_files(folders: Sequence[Path]) -> list[Path]:
    """Graph files (`*.json` that are not `*.meta.json`) in the folders, in folder order."""
    found: list[Path] = []
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            log.warning("workflow folder %s does not exist; skipped", folder)
            continue
        found += sorted(p for p in folder.glob("*.json") if not p.name.endswith(".meta.json"))
    return found


def load_template(graph_path: Path) -> WorkflowTemplate:
    """Load one graph and its sidecar; raises TemplateError naming the file and key."""
    graph_path = Path(graph_path)
    meta_path = sidecar_path(graph_path)
    graph = _read_json(graph_path)
    if not isinstance(graph, dict) or ("nodes" in graph and "links" in graph):
        raise TemplateError(graph_path, "", "not an API-format graph (export it with 'Export (API)')")
    for node_id, node in graph.items():
        if not isinstance(node, dict) or not isinstance(node.get("class_type"), str):
            raise TemplateError(graph_path, node_id, "node has no class_type")
        if not isinstance(node.get("inputs", {}), dict):
            raise TemplateError(graph_path, f"{node_id}.inputs", "must be an object")
    if not meta_path.is_file():
        raise TemplateError(meta_path, "", "sidecar missing: every workflow needs <name>.meta.json")
    try:
        meta = TemplateMeta.model_validate(_read_json(meta_path))
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"])
        raise TemplateError(meta_path, key, first["msg"]) from exc
    template = WorkflowTemplate(graph_path.stem, graph, meta, graph_path, meta_path)
    problems = check_bindings(template)
    if problems:
        raise TemplateError(meta_path, problems[0].kind, "; ".join(str(p) for p in problems))
    return template


def load_templates(folders: Sequence[Path]) -> TemplateCatalog:
    """Load every template in the folders; a name in a later folder overrides an earlier one."""
    catalog = TemplateCatalog()
    for graph_path in find_template_files(folders):
        try:
            template = load_template(graph_path)
        except TemplateError as exc:
            log.warning("workflow template skipped: %s", exc)
            catalog.problems.append(exc)
            continue
        if template.name in catalog.templates:
            log.info(
                "workflow %s from %s overrides %s",
                template.name,
                graph_path,
                catalog.templates[template.name].graph_path,
            )
        catalog.templates[template.name] = template
    return catalog


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TemplateError(path, "", f"cannot read: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise TemplateError(path, f"line {exc.lineno}", f"invalid JSON: {exc.msg}") from exc


# ---- static checks -------------------------------------------------------------------------------
def check_bindings(template: WorkflowTemplate) -> list[GraphProblem]:
    """Every binding and output names an existing node; every bound input exists and is a literal."""
    graph, problems = template.graph, []
    for role, targets in template.meta.bindings.items():
        for node_id, input_name in targets:
            node = graph.get(node_id)
            if node is None:
                problems.append(GraphProblem(f"bindings.{role}", node_id, None, input_name, "no such node"))
                continue
            inputs = node.get("inputs", {})
            if input_name not in inputs:
                message = f"node has no input '{input_name}' in the graph"
                problems.append(
                    GraphProblem(f"bindings.{role}", node_id, node["class_type"], input_name, message)
                )
            elif is_link(inputs[input_name]):
                message = "input is a link; a role can only set a literal value"
                problems.append(
                    GraphProblem(f"bindings.{role}", node_id, node["class_type"], input_name, message)
                )
    for node_id in template.meta.outputs:
        if node_id not in graph:
            problems.append(GraphProblem("outputs", node_id, None, None, "output node does not exist"))
    problems += _check_expect(template)
    problems += _check_derive(template)
    return problems


def _check_derive(template: WorkflowTemplate) -> list[GraphProblem]:
    """`derive` sets a bound numeric role from a bound input file's measure."""
    bindings, problems = template.meta.bindings, []
    for role, measured in template.meta.derive.items():
        if role not in bindings or role not in DERIVABLE_ROLES:
            message = f"'{role}' must be one of {sorted(DERIVABLE_ROLES)} and bound by the template"
            problems.append(GraphProblem(f"derive.{role}", None, None, None, message))
        if (
            measured.source is None
            or measured.source not in INPUT_FILE_ROLES
            or measured.source not in bindings
        ):
            message = "'from' must name an input-file role the template binds"
            problems.append(GraphProblem(f"derive.{role}", None, None, None, message))
        factor = measured.multiply
        if isinstance(factor, str) and (factor not in bindings or factor not in INT_ROLES | FLOAT_ROLES):
            message = f"'multiply' must name a numeric role the template binds, not '{factor}'"
            problems.append(GraphProblem(f"derive.{role}", None, None, None, message))
    return problems


def _check_expect(template: WorkflowTemplate) -> list[GraphProblem]:
    """`expect` measures a bound input file or takes a bound numeric role, and multiplies by a number or a
    bound numeric role."""
    expect, bindings, problems = template.meta.expect, template.meta.bindings, []
    for prop in ("frames", "fps", "size") if expect is not None else ():
        measured = getattr(expect, prop)
        if measured is None:
            continue
        if measured.source is not None and (
            measured.source not in INPUT_FILE_ROLES or measured.source not in bindings
        ):
            message = f"'from' must be an input-file role the template binds, not '{measured.source}'"
            problems.append(GraphProblem(f"expect.{prop}", None, None, None, message))
        for key, role in (("role", measured.role), ("multiply", measured.multiply)):
            if isinstance(role, str) and (role not in bindings or role not in INT_ROLES | FLOAT_ROLES):
                message = f"'{key}' must name a numeric role the template binds, not '{role}'"
                problems.append(GraphProblem(f"expect.{prop}", None, None, None, message))
    return problems


def graph_model_files(graph: Mapping[str, Any]) -> set[str]:
    """Literal inputs that name model files (by input name or file suffix)."""
    return {
        value
        for node in graph.values()
        for name, value in node.get("inputs", {}).items()
        if isinstance(value, str) and is_model_input(name, value)
    }
