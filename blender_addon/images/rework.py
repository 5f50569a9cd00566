"""Work on a take from Blender: refine it (prompt + denoise), edit it with an instruction (and the picked
character's reference images), inpaint it with the mask painted on it, or outpaint it to an aspect. The
take is the sequencer's active strip or the take shown in the Image Editor; the jobs go to the farm and
come back as new takes of the shot (`POST /api/shots/{id}/takes`)."""

from __future__ import annotations

from typing import Any

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, StringProperty

from .. import runtime
from ..i18n import iface
from ..registry import register_classes, unregister_classes
from . import core
from .review import TARGETS, _target_poll, reported_target

OPERATIONS = (
    ("refine", "Refine", "Image to image: the take redrawn with the prompt, as far as the denoise lets it"),
    (
        "edit",
        "Edit",
        "An instruction (e.g. make it night, keep the composition), with the character's references",
    ),
    ("inpaint", "Inpaint", "Repaint the white of the mask painted on this take"),
    ("outpaint", "Outpaint", "Extend the picture to another aspect"),
)


def _references(context: Any) -> list[str]:
    """The reference images listed in the layout panel for the picked character."""
    control = getattr(context.window_manager, "aipipe_control", None)
    return [r.id for r in control.references if r.id] if control is not None else []


class AIPIPE_OT_images_rework(bpy.types.Operator):
    """Make new takes from this one: refine, edit with an instruction, inpaint with its mask or outpaint"""

    bl_idname = "aipipe.images_rework"
    bl_label = "Work on take"
    bl_options = {"REGISTER"}

    target: EnumProperty(name="Take", items=TARGETS, default="AUTO")  # type: ignore[valid-type]
    operation: EnumProperty(name="Operation", items=OPERATIONS, default="refine")  # type: ignore[valid-type]
    text: StringProperty(  # type: ignore[valid-type]
        name="Prompt or instruction", description="Refine, inpaint, outpaint: blank keeps the take's prompt"
    )
    denoise: FloatProperty(name="Denoise", min=0.05, max=1.0, default=0.45)  # type: ignore[valid-type]
    aspect: StringProperty(name="Aspect", default="16:9")  # type: ignore[valid-type]
    candidates: IntProperty(name="Candidates", min=1, max=core.CANDIDATES_MAX, default=1)  # type: ignore[valid-type]
    use_references: BoolProperty(  # type: ignore[valid-type]
        name="Character references",
        description="Edit: the reference images of the character picked in the layout panel",
        default=True,
    )

    @classmethod
    def poll(cls, context: Any) -> bool:
        return _target_poll(cls, context, "AUTO")

    def invoke(self, context: Any, event: Any) -> set[str]:
        return context.window_manager.invoke_props_dialog(self)

    def draw(self, context: Any) -> None:
        layout = self.layout
        layout.prop(self, "operation")
        layout.prop(self, "text")
        if self.operation == "refine":
            layout.prop(self, "denoise")
        elif self.operation == "outpaint":
            layout.prop(self, "aspect")
        elif self.operation == "edit":
            layout.prop(self, "use_references")
        layout.prop(self, "candidates")

    def execute(self, context: Any) -> set[str]:
        version_id, name, _frame = reported_target(self, context)
        if not version_id:
            return {"CANCELLED"}
        operation = self.operation
        references = _references(context) if self.use_references and operation == "edit" else []
        args = {
            "candidates": self.candidates,
            "denoise": self.denoise,
            "aspect": self.aspect,
            "reference_ids": references,
        }
        try:  # what the dialog holds is checked now; the mask is looked up on the worker
            core.rework_body(operation, version_id, self.text, mask_id="-", **args)
        except ValueError as exc:
            self.report({"ERROR"}, iface(str(exc)))
            return {"CANCELLED"}
        text = self.text
        rt = runtime.get()

        def work(_ctx: Any) -> list[dict[str, Any]] | None:
            client = rt.require_client()
            shot_id = client.get(f"/api/versions/{version_id}")["shot_id"]
            mask = ""
            if operation == "inpaint":
                page = client.get(f"/api/shots/{shot_id}/versions", {"stage": "mask", "limit": 200})
                mask = core.newest_mask_of(page.get("items", []), version_id)
                if not mask:
                    return None  # said on the main thread, in the artist's language
            body = core.rework_body(operation, version_id, text, mask_id=mask, **args)
            return client.request("POST", f"/api/shots/{shot_id}/takes", body).data.get("jobs", [])

        def done(jobs: list[dict[str, Any]] | None) -> None:
            if jobs is None:
                rt.report(iface(core.NO_MASK), "ERROR")
                return
            rt.report(iface("{count} takes queued from {take}", count=len(jobs), take=name))

        rt.run("Queueing takes", work, done)
        return {"FINISHED"}


CLASSES = (AIPIPE_OT_images_rework,)


def register() -> None:
    register_classes(CLASSES)


def unregister() -> None:
    unregister_classes(CLASSES)
