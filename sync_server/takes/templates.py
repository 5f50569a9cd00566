"""Which workflow a take runs, and whether that workflow can do what the request asks."""

from __future__ import annotations

from aipipe_shared.workflows import SLOTTED_INPUT_ROLES, WorkflowTemplate

from ..errors import Unprocessable
from .schemas import TakeFields

# The template each operation uses when the request names none (docs/api.md, "Takes").
DEFAULT_TEMPLATES = {
    "generate": "flux1_dev_t2i",
    "refine": "flux1_dev_i2i",
    "edit": "qwen_image_edit",
    "inpaint": "flux1_fill_inpaint",
    "outpaint": "flux1_fill_outpaint",
}
CONTROL_TEMPLATES = {
    "depth": "flux1_dev_controlnet_depth",
    "canny": "flux1_dev_controlnet_canny",
    "pose": "flux1_dev_controlnet_pose",
}
NEEDS_SOURCE = frozenset({"refine", "edit", "inpaint", "outpaint"})


def template_name(body: TakeFields) -> tuple[str, str]:
    """The template's name and the field an error about it names."""
    if body.workflow:
        return body.workflow, "workflow"
    if body.control is not None and body.operation == "generate":
        return CONTROL_TEMPLATES[body.control.kind], "control.kind"
    return DEFAULT_TEMPLATES[body.operation], "operation"


def check_template(template: WorkflowTemplate, body: TakeFields, field: str = "workflow") -> None:
    meta, roles = template.meta, template.roles
    operation = meta.take_operation
    if operation is None:
        raise Unprocessable(
            f"workflow '{template.name}' is a {meta.job_type} workflow, not an image take's", field=field
        )
    if operation != body.operation:
        raise Unprocessable(f"workflow '{template.name}' does {operation}, not {body.operation}", field=field)

    def needs(role: str, request_field: str, why: str) -> None:
        if role not in roles:
            raise Unprocessable(
                f"workflow '{template.name}' has no '{role}' input, so it cannot take {why}",
                field=request_field,
            )

    if body.operation in NEEDS_SOURCE:
        needs("image", "workflow" if body.workflow else "operation", "a source image")
        if body.source_version_id is None:
            raise Unprocessable(
                f"{body.operation} works on a take: give source_version_id", field="source_version_id"
            )
    elif body.source_version_id is not None and "image" not in roles:
        needs("image", "source_version_id", "a source image")
    if body.operation == "inpaint" or body.mask_version_id is not None:
        needs("mask", "mask_version_id", "a mask")
        if body.mask_version_id is None:
            raise Unprocessable("inpaint needs a mask: give mask_version_id", field="mask_version_id")
    if body.operation == "outpaint":
        if body.pad is None and body.aspect is None:
            raise Unprocessable("outpaint needs pad (pixels per side) or aspect ('W:H')", field="pad")
        if body.pad is not None and body.aspect is not None:
            raise Unprocessable("give pad or aspect, not both", field="aspect")
        for side in ("left", "top", "right", "bottom"):
            needs(f"pad_{side}", "pad", "pads")
    elif body.pad is not None or body.aspect is not None:
        raise Unprocessable("pad and aspect are for outpaint", field="pad" if body.pad else "aspect")
    if body.operation == "edit" and not (body.instruction or body.prompt):
        raise Unprocessable("an edit needs an instruction (what to change)", field="instruction")
    if body.instruction is not None and "instruction" not in roles and "positive" not in roles:
        needs("instruction", "instruction", "an instruction")
    if body.denoise is not None:
        needs("denoise", "denoise", "a denoise strength")
    if body.control is not None:
        needs("control_image", "control", "a control image")
        kind = meta.control.kind if meta.control else None
        if kind is not None and kind != body.control.kind:
            raise Unprocessable(
                f"workflow '{template.name}' is conditioned on {kind}, not {body.control.kind}",
                field="control.kind",
            )
    elif "control_image" in roles:
        raise Unprocessable(
            f"workflow '{template.name}' is conditioned on a control image: give control", field="control"
        )
    if body.reference_version_ids:
        needs("reference_image", "reference_version_ids", "reference images")
        slots = len(meta.bindings.get("reference_image") or [])
        if "reference_image" in SLOTTED_INPUT_ROLES and len(body.reference_version_ids) > slots:
            raise Unprocessable(
                f"workflow '{template.name}' takes at most {slots} reference image(s)",
                field="reference_version_ids",
            )
    unknown = sorted(set(body.params) - set(roles) - {"loras"})
    if unknown:
        raise Unprocessable(
            f"workflow '{template.name}' has no role {unknown[0]!r} (it binds {sorted(roles)})",
            field=f"params.{unknown[0]}",
        )
