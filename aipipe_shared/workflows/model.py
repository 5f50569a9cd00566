"""The workflow sidecar model: roles, job types, the `.meta.json` schema, and the findings of graph checks."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Role = Literal[
    "positive",
    "negative",
    "instruction",
    "seed",
    "image",
    "end_image",
    "video",
    "control_video",
    "mask",
    "control_image",
    "reference_image",
    "width",
    "height",
    "length",
    "fps",
    "loras",
    "denoise",
    "steps",
    "cfg",
    "control_strength",
    "control_start",
    "control_end",
    "pad_left",
    "pad_top",
    "pad_right",
    "pad_bottom",
    "feathering",
    "factor",
    "filename_prefix",
]
JobType = Literal["t2i", "i2i", "image_edit", "inpaint", "i2v", "upscale", "interpolate", "depth"]
MediaKind = Literal["video", "image"]
Operation = Literal["generate", "refine", "edit", "inpaint", "outpaint"]
"""What a take does to a picture; the sidecar's `operation` (else derived from its job type)."""
ControlKind = Literal["depth", "canny", "pose"]

INPUT_FILE_ROLES = (
    "image",
    "end_image",
    "video",
    "control_video",
    "mask",
    "control_image",
    "reference_image",
)
"""Roles naming an uploaded input: the template's placeholder is never a real file, so bind requires them
(except slotted roles, whose unused slots are removed)."""
SLOTTED_INPUT_ROLES = frozenset({"reference_image"})
"""Input roles a job may fill 0..n times: each binding target is one slot (a loader node's input), filled in
order; an unused slot's loader node is removed with the (optional) inputs linked to it."""
TEXT_ROLES = frozenset({"positive", "negative", "instruction", "filename_prefix", *INPUT_FILE_ROLES})
PAD_ROLES = ("pad_left", "pad_top", "pad_right", "pad_bottom")
INT_ROLES = frozenset({"seed", "width", "height", "length", "steps", "feathering", "factor", *PAD_ROLES})
FLOAT_ROLES = frozenset({"fps", "denoise", "cfg", "control_strength", "control_start", "control_end"})
DERIVABLE_ROLES = {"fps": "fps", "length": "frames", "width": "width", "height": "height"}
"""Roles a sidecar's `derive` may set from an input video, and the measure each takes."""
OPERATION_OF_JOB_TYPE: dict[str, Operation] = {
    "t2i": "generate",
    "i2i": "refine",
    "image_edit": "edit",
    "inpaint": "inpaint",
}

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


class ParamRule(BaseModel):
    """What values of one role the workflow accepts (`value % multiple_of == remainder`, within min..max):
    a job breaking it would fail on every agent, so it is refused at submit, naming the parameter."""

    model_config = ConfigDict(extra="forbid")

    multiple_of: int = Field(default=1, ge=1)
    remainder: int = Field(default=0, ge=0)
    min: float | None = None
    max: float | None = None
    why: str = Field(default="", description="Said in the refusal, e.g. 'h264 needs even sizes'.")


class ControlSpec(BaseModel):
    """A control template's control image: what kind of picture it expects (the add-on renders it)."""

    model_config = ConfigDict(extra="forbid")

    kind: ControlKind


class Measured(BaseModel):
    """One property of the output video: the input file of role `from` measured (its frames, fps or size), or
    the bound value of the numeric role `role` (e.g. `length`), times `multiply` (a number, or a numeric role
    whose bound value is used, e.g. `"factor"`). Exactly one of `from` and `role`."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    source: Role | None = Field(default=None, alias="from", description="Input-file role measured: 'video'.")
    role: Role | None = Field(default=None, description="A bound numeric role whose value it is: 'length'.")
    multiply: float | Role = 1

    @field_validator("multiply")
    @classmethod
    def _positive(cls, value: float | str) -> float | str:
        if not isinstance(value, str) and value <= 0:
            raise ValueError("multiply must be positive")
        return value

    @model_validator(mode="after")
    def _one_base(self) -> Measured:
        if (self.source is None) == (self.role is None):
            raise ValueError("give exactly one of 'from' (an input file) and 'role' (a bound value)")
        return self


class MeasuredFrames(Measured):
    """Frame count: `n * k`, or with `between` `(n - 1) * k + 1` (an interpolator keeps both ends and puts
    k - 1 frames between each pair of neighbours, as RIFE VFI does)."""

    between: bool = False

    @model_validator(mode="after")
    def _between_needs_an_input(self) -> MeasuredFrames:
        if self.between and self.source is None:
            raise ValueError("'between' counts the frames of an input ('from')")
        return self


class OutputExpectation(BaseModel):
    """What the agent checks in the output video after the run (PyAV), failing the job when it differs."""

    model_config = ConfigDict(extra="forbid")

    frames: MeasuredFrames | None = None
    fps: Measured | None = None
    size: Measured | None = None

    @field_validator("size")
    @classmethod
    def _size_from_an_input(cls, value: Measured | None) -> Measured | None:
        if value is not None and value.source is None:
            raise ValueError("size is measured from an input ('from'), not a role")
        return value


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
    rules: dict[Role, ParamRule] = Field(default_factory=dict)
    operation: Operation | None = Field(
        default=None, description="The take operation it serves; default from job_type (t2i: generate ...)."
    )
    control: ControlSpec | None = None
    min_comfyui: str | None = Field(
        default=None,
        pattern=r"^\d+\.\d+(\.\d+)?$",
        description="The oldest ComfyUI version whose nodes the graph needs, e.g. '0.3.60'.",
    )
    expect: OutputExpectation | None = Field(
        default=None, description="Frame count, fps and size the output video must have, from an input's."
    )
    derive: dict[Role, Measured] = Field(
        default_factory=dict,
        description="Roles the agent sets from a measured input when the job does not give them, e.g. "
        "fps = the source video's fps x factor (ComfyUI has no node that computes it).",
    )

    @field_validator("bindings", mode="before")
    @classmethod
    def _one_pair_or_many(cls, value: Any) -> Any:
        # `"seed": ["3", "seed"]` is shorthand for `"seed": [["3", "seed"]]`.
        if not isinstance(value, dict):
            return value
        return {role: [targets] if is_pair(targets) else targets for role, targets in value.items()}

    @property
    def custom_node_classes(self) -> frozenset[str]:
        return frozenset(c for req in self.custom_nodes for c in req.classes)

    @property
    def take_operation(self) -> Operation | None:
        """The declared operation, else the one its job type implies (None for video jobs)."""
        return self.operation or OPERATION_OF_JOB_TYPE.get(self.job_type)

    @property
    def min_comfyui_version(self) -> tuple[int, ...] | None:
        return parse_version(self.min_comfyui) if self.min_comfyui else None

    @property
    def requirements_text(self) -> str:
        """`ComfyUI >= 0.8.0; custom node pack ComfyUI-KJNodes (WanImageToVideoSVIPro)`, or ''."""
        parts = [f"ComfyUI >= {self.min_comfyui}"] if self.min_comfyui else []
        parts += [f"custom node pack {r.package} ({', '.join(r.classes)})" for r in self.custom_nodes]
        return "; ".join(parts)

    def runs_on_comfyui(self, version: str | None) -> bool:
        """False only when `version` (e.g. an agent's `comfyui_version`) is known and older than
        `min_comfyui`."""
        wanted, have = self.min_comfyui_version, parse_version(version or "")
        return wanted is None or have is None or have >= wanted


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

    @property
    def runnable(self) -> bool:
        """No error and no declared custom node missing: this ComfyUI can run it (given the models)."""
        return not self.errors and not self.missing_custom_nodes

    def raise_for_errors(self, what: str = "graph") -> None:
        """Raise TemplateBindError listing every error."""
        if self.errors:
            raise TemplateBindError(f"{what} is invalid: " + "; ".join(str(e) for e in self.errors))


@dataclass
class TemplateCatalog:
    """Templates by name, plus the files that could not be loaded (a bad drop-in never hides the rest)."""

    templates: dict[str, WorkflowTemplate] = field(default_factory=dict)
    problems: list[TemplateError] = field(default_factory=list)


# ---- graph primitives ----------------------------------------------------------------------------
def is_model_input(name: str, value: Any) -> bool:
    return name in MODEL_INPUT_NAMES or str(value).lower().endswith(MODEL_FILE_SUFFIXES)


def parse_version(text: str) -> tuple[int, ...] | None:
    """`'0.3.60'` -> `(0, 3, 60)`; the leading numbers of e.g. `'v0.3.64-12-gabc'`; None without any."""
    match = re.match(r"^v?(\d+(?:\.\d+)*)", text.strip())
    return tuple(int(part) for part in match.group(1).split(".")) if match else None


def is_pair(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)


def is_link(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str | int)
        and isinstance(value[1], int)
    )
