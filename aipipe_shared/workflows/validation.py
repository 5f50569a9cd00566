"""Validating a graph against a ComfyUI `object_info` node catalogue, as ComfyUI's validate_prompt does."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .loading import check_bindings
from .model import (
    INPUT_FILE_FLAGS,
    GraphProblem,
    ValidationReport,
    WorkflowTemplate,
    is_link,
    is_model_input,
)


# ---- validation against object_info --------------------------------------------------------------
def validate_graph(
    graph: Mapping[str, Any], object_info: Mapping[str, Any], *, custom_node_classes: Iterable[str] = ()
) -> ValidationReport:
    """Check the graph as ComfyUI's validate_prompt does: classes, required inputs, links, ranges, combos.

    Stricter than 0.3.64 in two ways: every node is checked (not only those feeding an output) and
    V3 `COMBO` options are checked too (0.3.64 only fails those at run time).
    """
    report = ValidationReport()
    custom = frozenset(custom_node_classes)
    has_output = False
    for node_id, node in graph.items():
        class_type = node.get("class_type")
        info = object_info.get(class_type)
        if info is None:
            if class_type in custom:
                message = "custom node class is not installed on this ComfyUI (declared requirement)"
                report.missing_custom_nodes.append(
                    GraphProblem("missing_custom_node", node_id, class_type, None, message)
                )
                has_output = True  # cannot know; do not claim "no outputs" because of it
            else:
                message = (
                    f"node class {class_type!r} does not exist (not in object_info, not declared custom)"
                )
                report.errors.append(GraphProblem("unknown_class", node_id, class_type, None, message))
            continue
        has_output = has_output or bool(info.get("output_node"))
        _check_node_inputs(graph, object_info, custom, node_id, node, info, report)
    if graph and not has_output:
        report.errors.append(GraphProblem("prompt_no_outputs", None, None, None, "graph has no output node"))
    return report


def _check_node_inputs(
    graph: Mapping[str, Any],
    object_info: Mapping[str, Any],
    custom: frozenset[str],
    node_id: str,
    node: Mapping[str, Any],
    info: Mapping[str, Any],
    report: ValidationReport,
) -> None:
    class_type, inputs = node["class_type"], node.get("inputs", {})

    def problem(kind: str, name: str, message: str) -> GraphProblem:
        return GraphProblem(kind, node_id, class_type, name, message)

    for category in ("required", "optional"):
        for name, spec in (info.get("input", {}).get(category) or {}).items():
            input_type = spec[0]
            extra = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
            if name not in inputs:
                if category == "required":
                    report.errors.append(problem("required_input_missing", name, "required input is missing"))
                continue
            value = inputs[name]
            if isinstance(value, list):
                _check_link(
                    graph,
                    object_info,
                    custom,
                    value,
                    input_type,
                    report,
                    lambda k, m, n=name: problem(k, n, m),
                )
                continue
            options = (
                input_type
                if isinstance(input_type, list)
                else extra.get("options")
                if input_type == "COMBO"
                else None
            )
            if options is not None:
                if any(extra.get(flag) for flag in INPUT_FILE_FLAGS) or value in options:
                    continue  # input files are uploaded per job; ComfyUI checks them itself
                if is_model_input(name, value):
                    report.missing_models.append(
                        problem("missing_model", name, f"model file {value!r} is not installed")
                    )
                else:
                    shown = options if len(options) <= 20 else f"(list of length {len(options)})"
                    report.errors.append(problem("value_not_in_list", name, f"{value!r} not in {shown}"))
                continue
            converted = _convert(input_type, value)
            if converted is None:
                report.errors.append(
                    problem("invalid_input_type", name, f"{value!r} is not a valid {input_type}")
                )
                continue
            if "min" in extra and converted < extra["min"]:
                report.errors.append(
                    problem("value_smaller_than_min", name, f"{value} is below the minimum {extra['min']}")
                )
            elif "max" in extra and converted > extra["max"]:
                report.errors.append(
                    problem("value_bigger_than_max", name, f"{value} is above the maximum {extra['max']}")
                )


def _check_link(
    graph: Mapping[str, Any],
    object_info: Mapping[str, Any],
    custom: frozenset[str],
    value: list[Any],
    input_type: Any,
    report: ValidationReport,
    problem: Any,
) -> None:
    if not is_link(value):
        report.errors.append(problem("bad_linked_input", "a link must be [node_id, output_index]"))
        return
    source_id, index = str(value[0]), value[1]
    source = graph.get(source_id)
    if source is None:
        report.errors.append(problem("bad_linked_input", f"links to node {source_id}, which does not exist"))
        return
    source_info = object_info.get(source.get("class_type"))
    if source_info is None:
        return  # unknown or custom source class: reported at that node; its output types are unknown
    outputs = source_info.get("output") or []
    if not 0 <= index < len(outputs):
        message = (
            f"links to output {index} of node {source_id} ({source['class_type']}), which has {len(outputs)}"
        )
        report.errors.append(problem("bad_linked_input", message))
        return
    if not types_compatible(outputs[index], input_type):
        message = (
            f"receives {outputs[index]} from node {source_id} ({source['class_type']}) but needs {input_type}"
        )
        report.errors.append(problem("return_type_mismatch", message))


def types_compatible(received: Any, expected: Any) -> bool:
    """ComfyUI's `validate_node_input`: equal, `*` wildcard, or overlapping comma-separated type lists."""
    if received == expected:
        return True
    if not isinstance(received, str) or not isinstance(expected, str):
        return False
    got = {t.strip() for t in received.split(",")}
    want = {t.strip() for t in expected.split(",")}
    return "*" in got or "*" in want or bool(got & want)


def _convert(input_type: Any, value: Any) -> Any:
    """The value as ComfyUI would convert it, or None when it cannot; other types pass unchanged."""
    try:
        if input_type == "INT":
            return int(value)
        if input_type == "FLOAT":
            return float(value)
    except (TypeError, ValueError):
        return None
    if input_type == "STRING" and not isinstance(value, str | int | float):
        return None
    return value


def validate_template(template: WorkflowTemplate, object_info: Mapping[str, Any]) -> ValidationReport:
    """Static binding checks plus `validate_graph`, plus: outputs are output nodes, bound inputs exist."""
    report = validate_graph(
        template.graph, object_info, custom_node_classes=template.meta.custom_node_classes
    )
    report.errors += check_bindings(template)
    for node_id in template.meta.outputs:
        node = template.graph.get(node_id)
        info = object_info.get(node["class_type"]) if node else None
        if info is not None and not info.get("output_node"):
            message = "listed in the sidecar's outputs but is not an output node"
            report.errors.append(GraphProblem("outputs", node_id, node["class_type"], None, message))
    for role, targets in template.meta.bindings.items():
        for node_id, input_name in targets:
            node = template.graph.get(node_id)
            info = object_info.get(node["class_type"]) if node else None
            if info is None:
                continue
            known = {**info["input"].get("required", {}), **info["input"].get("optional", {})}
            if input_name not in known:
                message = f"bound by role '{role}' but the class has no such input"
                report.errors.append(
                    GraphProblem(f"bindings.{role}", node_id, node["class_type"], input_name, message)
                )
    return report


# ---- binding --------------------------------------------------------------------------------------
