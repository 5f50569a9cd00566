"""Workflow templates: ComfyUI API-format graphs plus a `.meta.json` sidecar that binds roles to inputs.

`workflows/<name>.json` is the graph exactly as `POST /prompt` takes it; `workflows/<name>.meta.json`
says which `[node_id, input_name]` each role (positive, seed, image, ...) sets, which nodes are the
outputs, what the job needs (VRAM, model files, custom node packs) and its job type. Users add templates
by dropping both files into one of the configured folders; a later folder overrides an earlier one.

Validation mirrors ComfyUI's own `validate_prompt` against an `object_info` dict; model files and custom
node classes are reported apart from errors, because they depend on the host that will run the job.
The server (submit-time checks), the agents and the tests all use this one package.
"""

from __future__ import annotations

from .annotation import NOTE_KEY, annotate, comfyui_too_old, note_of
from .binding import bind, role_targets
from .loading import (
    check_bindings,
    find_template_files,
    graph_model_files,
    load_template,
    load_templates,
    sidecar_path,
)
from .model import (
    DERIVABLE_ROLES,
    FLOAT_ROLES,
    INPUT_FILE_FLAGS,
    INPUT_FILE_ROLES,
    INT_ROLES,
    LORA_PASSTHROUGH,
    MODEL_FILE_SUFFIXES,
    MODEL_INPUT_NAMES,
    OPERATION_OF_JOB_TYPE,
    PAD_ROLES,
    SLOTTED_INPUT_ROLES,
    TEXT_ROLES,
    ControlKind,
    ControlSpec,
    CustomNodeRequirement,
    GraphProblem,
    JobType,
    Measured,
    MeasuredFrames,
    MediaKind,
    Operation,
    OutputExpectation,
    ParamRule,
    Role,
    TemplateBindError,
    TemplateCatalog,
    TemplateError,
    TemplateMeta,
    ValidationReport,
    WorkflowTemplate,
    parse_version,
)
from .params import check_params, outpaint_pads, rules_of, snap
from .validation import types_compatible, validate_graph, validate_template

__all__ = [
    "DERIVABLE_ROLES",
    "FLOAT_ROLES",
    "INPUT_FILE_FLAGS",
    "INPUT_FILE_ROLES",
    "INT_ROLES",
    "LORA_PASSTHROUGH",
    "NOTE_KEY",
    "MODEL_FILE_SUFFIXES",
    "MODEL_INPUT_NAMES",
    "OPERATION_OF_JOB_TYPE",
    "PAD_ROLES",
    "SLOTTED_INPUT_ROLES",
    "TEXT_ROLES",
    "ControlKind",
    "ControlSpec",
    "CustomNodeRequirement",
    "GraphProblem",
    "JobType",
    "Measured",
    "MeasuredFrames",
    "MediaKind",
    "Operation",
    "OutputExpectation",
    "ParamRule",
    "Role",
    "TemplateBindError",
    "TemplateCatalog",
    "TemplateError",
    "TemplateMeta",
    "ValidationReport",
    "WorkflowTemplate",
    "annotate",
    "bind",
    "check_bindings",
    "check_params",
    "comfyui_too_old",
    "find_template_files",
    "graph_model_files",
    "load_template",
    "load_templates",
    "note_of",
    "outpaint_pads",
    "parse_version",
    "role_targets",
    "rules_of",
    "sidecar_path",
    "snap",
    "types_compatible",
    "validate_graph",
    "validate_template",
]
