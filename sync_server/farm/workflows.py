"""Workflow templates: ComfyUI API-format graphs plus a `.meta.json` sidecar that binds roles to inputs.

`workflows/<name>.json` is the graph exactly as `POST /prompt` takes it; `workflows/<name>.meta.json`
says which `[node_id, input_name]` each role (positive, seed, image, ...) sets, which nodes are the
outputs, what the job needs (VRAM, model files, custom node packs) and its job type. Users add templates
by dropping both files into one of the configured folders; a later folder overrides an earlier one.

Validation mirrors ComfyUI's own `validate_prompt` against an `object_info` dict; model files and custom
node classes are reported apart from errors, because they depend on the host that will run the job.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

log = logging.getLogger(__name__)

Role = Literal[
    "positive",
    "negative",
    "seed",
    "image",
    "end_image",
    "video",
    "width",
    "height",
    "length",
    "fps",
    "loras",
    "denoise",
    "steps",
    "cfg",
    "filename_prefix",
]
JobType = Literal["t2i", "i2i", "image_edit", "inpaint", "i2v", "upscale", "interpolate"]
MediaKind = Literal["video", "image"]

TEXT_ROLES = frozenset({"positive", "negative", "image", "end_image", "video", "filename_prefix"})
INT_ROLES = frozenset({"seed", "width", "height", "length", "steps"})
FLOAT_ROLES = frozenset({"fps", "denoise", "cfg"})
INPUT_FILE_ROLES = ("image", "end_image", "video")
"""Roles naming an uploaded input: the template's placeholder is never a real file, so bind requires them."""

MODEL_INPUT_NAMES = frozenset(
    {
        "ckpt_name",
        "unet_name",
        "clip_name",
        "clip_name1",
        "clip_name2",
        "clip_name3",
        "clip_name4",
        "vae_name",
        "lora_name",
        "model_name",
        "control_net_name",
        "style_model_name",
        "gligen_name",
        "text_encoder",
    }
)
MODEL_FILE_SUFFIXES = (".safetensors", ".sft", ".ckpt", ".pt", ".pth", ".bin", ".gguf", ".onnx")
INPUT_FILE_FLAGS = ("image_upload", "video_upload", "audio_upload")
LORA_PASSTHROUGH = {0: "model", 1: "clip"}
"""LoRA loader outputs -> the input each passes through when an unused slot is bypassed."""


class TemplateError(ValueError):
    """A template or sidecar that cannot be used; names the file and the key at fault."""

    def __init__(self, path: Path | str, key: str, message: str):
        self.path, self.key = Path(path), key
        super().__init__(f"{path}: {key}: {message}" if key else f"{path}: {message}")


class TemplateBindError(ValueError):
    """Parameters that do not fit a template (unknown role, wrong type, role the template does not bind)."""


class CustomNodeRequirement(BaseModel):
    """A custom node pack the template needs, and the node classes it provides."""

    model_config = ConfigDict(extra="forbid")

    package: str
    url: str | None = None
    classes: list[str] = Field(min_length=1)


class TemplateMeta(BaseModel):
    """The sidecar `<name>.meta.json`."""

    model_config = ConfigDict(extra="forbid")

    title: str
    description: str = ""
    job_type: JobType
    media_kind: MediaKind
    outputs: list[str] = Field(min_length=1)
    min_vram_gb: float = Field(ge=0)
    models: list[str] = Field(default_factory=list)
    custom_nodes: list[CustomNodeRequirement] = Field(default_factory=list)
    bindings: dict[Role, list[tuple[str, str]]] = Field(default_factory=dict)

    @field_validator("bindings", mode="before")
    @classmethod
    def _one_pair_or_many(cls, value: Any) -> Any:
        # `"seed": ["3", "seed"]` is shorthand for `"seed": [["3", "seed"]]`.
        if not isinstance(value, dict):
            return value
        return {role: [targets] if _is_pair(targets) else targets for role, targets in value.items()}

    @property
    def custom_node_classes(self) -> frozenset[str]:
        return frozenset(c for req in self.custom_nodes for c in req.classes)


@dataclass(frozen=True)
class WorkflowTemplate:
    """A loaded template. `graph` is shared: never mutate it, `bind` returns a copy."""

    name: str
    graph: dict[str, Any]
    meta: TemplateMeta
    graph_path: Path
    meta_path: Path

    @property
    def roles(self) -> frozenset[str]:
        """The roles this template binds (what `bind` accepts)."""
        return frozenset(self.meta.bindings)


@dataclass(frozen=True)
class GraphProblem:
    """One finding about a graph, located at node id, class_type and input."""

    kind: str
    node_id: str | None
    class_type: str | None
    input_name: str | None
    message: str

    def __str__(self) -> str:
        where = "graph" if self.node_id is None else f"node {self.node_id} ({self.class_type})"
        if self.input_name:
            where += f" input '{self.input_name}'"
        return f"{where}: {self.message}"


@dataclass
class ValidationReport:
    """`errors` make the graph unusable anywhere; missing models / custom nodes depend on the host."""

    errors: list[GraphProblem] = field(default_factory=list)
    missing_models: list[GraphProblem] = field(default_factory=list)
    missing_custom_nodes: list[GraphProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def raise_for_errors(self, what: str = "graph") -> None:
        """Raise TemplateBindError listing every error."""
        if self.errors:
            raise TemplateBindError(f"{what} is invalid: " + "; ".join(str(e) for e in self.errors))


@dataclass
class TemplateCatalog:
    """Templates by name, plus the files that could not be loaded (a bad drop-in never hides the rest)."""

    templates: dict[str, WorkflowTemplate] = field(default_factory=dict)
    problems: list[TemplateError] = field(default_factory=list)


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
            elif _is_link(inputs[input_name]):
                message = "input is a link; a role can only set a literal value"
                problems.append(
                    GraphProblem(f"bindings.{role}", node_id, node["class_type"], input_name, message)
                )
    for node_id in template.meta.outputs:
        if node_id not in graph:
            problems.append(GraphProblem("outputs", node_id, None, None, "output node does not exist"))
    return problems


def graph_model_files(graph: Mapping[str, Any]) -> set[str]:
    """Literal inputs that name model files (by input name or file suffix)."""
    return {
        value
        for node in graph.values()
        for name, value in node.get("inputs", {}).items()
        if isinstance(value, str) and _is_model_input(name, value)
    }


def _is_model_input(name: str, value: Any) -> bool:
    return name in MODEL_INPUT_NAMES or str(value).lower().endswith(MODEL_FILE_SUFFIXES)


def _is_pair(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)


def _is_link(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str | int)
        and isinstance(value[1], int)
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
                if _is_model_input(name, value):
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
    if not _is_link(value):
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
def bind(template: WorkflowTemplate, params: Mapping[str, Any]) -> dict[str, Any]:
    """Copy of the graph with the given roles' inputs set; nothing else changes (unused LoRA slots bypassed).

    A role whose value is None keeps the template's default. Raises TemplateBindError naming the role.
    """
    unknown = sorted(set(params) - set(get_args(Role)))
    if unknown:
        raise TemplateBindError(f"unknown role(s) {unknown}; roles are {sorted(get_args(Role))}")
    graph = copy.deepcopy(template.graph)
    bindings = template.meta.bindings
    for role, value in params.items():
        if value is None:
            continue
        if role == "loras":
            continue  # slots when the template has them, else a chain after its model loaders (below)
        if role not in bindings:
            raise TemplateBindError(
                f"template '{template.name}' has no binding for role '{role}' (it binds {sorted(bindings)})"
            )
        value = _coerce(role, value)
        for node_id, input_name in bindings[role]:
            graph[node_id]["inputs"][input_name] = value
    missing = [r for r in INPUT_FILE_ROLES if r in bindings and params.get(r) is None]
    if missing:
        raise TemplateBindError(
            f"template '{template.name}' needs an uploaded input file for role(s) {missing}"
        )
    if "loras" in bindings:
        _bind_loras(graph, template, params.get("loras") or [])
    elif params.get("loras"):
        graph = _chain_loras(graph, template, params["loras"])
    return graph


def _chain_loras(
    graph: dict[str, Any], template: WorkflowTemplate, loras: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """A template without LoRA slots gets a chain of LoRA loaders after its model loader(s)."""
    from ..prompts.lora_chain import LoraChainError, insert_lora_chain

    if not isinstance(loras, Sequence) or isinstance(loras, str):
        raise TemplateBindError("role 'loras' must be a list of {name, strength}")
    try:
        chained, _ = insert_lora_chain(graph, loras)
    except LoraChainError as exc:
        raise TemplateBindError(f"template '{template.name}': {exc}") from exc
    return chained


def _coerce(role: str, value: Any) -> Any:
    if role in TEXT_ROLES:
        if not isinstance(value, str):
            raise TemplateBindError(f"role '{role}' must be text, got {type(value).__name__}")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TemplateBindError(f"role '{role}' must be a number, got {type(value).__name__}")
    if role in INT_ROLES:
        if value != int(value):
            raise TemplateBindError(f"role '{role}' must be a whole number, got {value}")
        return int(value)
    return float(value)


def _bind_loras(
    graph: dict[str, Any], template: WorkflowTemplate, loras: Sequence[Mapping[str, Any]]
) -> None:
    slots = template.meta.bindings["loras"]
    if len(loras) > len(slots):
        raise TemplateBindError(
            f"template '{template.name}' has {len(slots)} LoRA slot(s), got {len(loras)} LoRAs"
        )
    for index, ((node_id, input_name), lora) in enumerate(zip(slots, loras, strict=False)):
        if not isinstance(lora, Mapping) or not isinstance(lora.get("name"), str):
            raise TemplateBindError(f"loras[{index}] must be an object with a 'name' (the LoRA file)")
        inputs = graph[node_id]["inputs"]
        inputs[input_name] = lora["name"]
        strength = lora.get("strength", 1.0)
        strengths = {"strength_model": strength, "strength_clip": lora.get("strength_clip", strength)}
        for strength_input, value in strengths.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TemplateBindError(f"loras[{index}] strength must be a number, got {value!r}")
            if strength_input in inputs:
                inputs[strength_input] = float(value)
    for node_id, _ in slots[len(loras) :]:
        _bypass(graph, node_id, template.name)


def _bypass(graph: dict[str, Any], node_id: str, template_name: str) -> None:
    """Remove a LoRA loader and wire its consumers to the model (and clip) it was fed."""
    node = graph.pop(node_id)
    for other_id, other in graph.items():
        for name, value in other.get("inputs", {}).items():
            if not (_is_link(value) and str(value[0]) == node_id):
                continue
            source = node["inputs"].get(LORA_PASSTHROUGH.get(value[1], ""))
            if not _is_link(source):
                raise TemplateBindError(
                    f"template '{template_name}': cannot bypass unused LoRA slot {node_id} "
                    f"feeding node {other_id} input '{name}'"
                )
            other["inputs"][name] = list(source)
