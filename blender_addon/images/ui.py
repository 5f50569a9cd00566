"""The image loop's panels: "Takes" in the 3D View sidebar (tick shots, generate), in the Sequencer sidebar
(generate for the selected strips, A/B wipe, the compared takes' prompts and parameters, review, markers,
first frame, redo) and in the Image Editor sidebar (the take list, A/B, side by side, wipe, prompts and
parameters, review)."""

from __future__ import annotations

import json
from typing import Any

import bpy

from .. import compat, runtime
from ..connect.ui import WRAP_WIDTH, ImageEditorPanel, SequencerPanel, SidebarPanel, draw_activity
from ..core.textwrap import wrap
from ..i18n import iface
from ..registry import register_classes, unregister_classes
from . import core, review
from .props import state
from .takes import shown_take


def draw_provenance(layout: Any, take: Any) -> None:
    """The take's prompts and parameters, one name: value line each (wrapped)."""
    box = layout.box()
    box.label(text=iface("Provenance of {take}", take=take.label), icon="INFO", translate=False)
    try:
        provenance = json.loads(take.provenance or "{}")
    except ValueError:
        provenance = {}
    lines = core.provenance_lines(provenance if isinstance(provenance, dict) else {})
    if not lines:
        box.label(text="No provenance recorded")
    for name, value in lines:
        for index, line in enumerate(wrap(f"{name}: {value}", WRAP_WIDTH)):
            box.label(text=line if index == 0 else f"  {line}", translate=False)


def vse_compared_takes(context: Any) -> tuple[list[Any], bool]:
    """The loaded takes the Sequencer shows: the A/B compare strips' (A first), else the active strip's.
    The flag says a strip shows a version whose take is not loaded (Load takes lists its shot's)."""
    editor = context.scene.sequence_editor
    if editor is None:
        return [], False
    compare = {
        s.get("aipipe_compare"): s for s in compat.vse_all_strips(context.scene) if s.get("aipipe_compare")
    }
    strips = [compare[k] for k in ("A", "B") if k in compare] or [editor.active_strip]
    wanted = [str(s.get("aipipe_version_id") or "") for s in strips if s is not None]
    wanted = [v for v in wanted if v]
    by_id = {t.version_id: t for t in state().takes}
    found = [by_id[v] for v in wanted if v in by_id]
    return found, len(found) < len(wanted)


def draw_review(layout: Any, target: str) -> None:
    box = layout.box()
    box.label(text="Review")
    row = box.row(align=True)
    for verdict, icon in (("approve", "CHECKMARK"), ("needs_changes", "ERROR"), ("reject", "CANCEL")):
        op = row.operator("aipipe.images_review", text="", icon=icon)
        op.target, op.verdict = target, verdict
    box.operator("aipipe.images_review", text="Note at this frame", icon="TEXT").target = target
    box.operator("aipipe.images_use_first_frame", icon="SOLO_ON").target = target
    row = box.row(align=True)
    row.operator("aipipe.images_redo", icon="FILE_REFRESH").target = target
    row.operator("aipipe.images_rework", icon="BRUSH_DATA").target = target


class AIPIPE_UL_images_takes(bpy.types.UIList):
    """The compared shot's takes; A and B buttons pick the two compared."""

    def draw_item(
        self, context: Any, layout: Any, data: Any, item: Any, icon: Any, active_data: Any, active_prop: Any
    ) -> None:
        st = state()
        row = layout.row(align=True)
        index = list(st.takes).index(item) if item in list(st.takes) else -1
        row.label(text=item.label, icon="SOLO_ON" if item.first_frame else "IMAGE_DATA", translate=False)
        for slot, chosen in (("A", st.take_index), ("B", st.other_index)):
            op = row.operator("aipipe.images_set_take", text=slot, depress=index == chosen)
            op.index, op.slot = index, slot


class AIPIPE_PT_images(SidebarPanel, bpy.types.Panel):
    bl_idname = "AIPIPE_PT_images"
    bl_label = "Takes"

    def draw(self, context: Any) -> None:
        layout = self.layout
        if not runtime.is_online():
            layout.label(text="Log in to generate takes", icon="INFO")
            return
        st = state()
        browser = context.window_manager.aipipe
        layout.template_list("AIPIPE_UL_images_shots", "", browser, "shots", browser, "shot_index", rows=5)
        row = layout.row(align=True)
        row.operator("aipipe.images_tick_all", icon="CHECKBOX_HLT")
        row.operator("aipipe.images_tick_all", text="Clear", icon="CHECKBOX_DEHLT").clear = True
        layout.label(text=iface("{count} shots ticked", count=len(st.picks)), translate=False)
        layout.operator("aipipe.images_generate", icon="RENDER_STILL").source = "SHOTS"
        if st.arrived:
            layout.label(
                text=iface("{count} takes arrived", count=st.arrived), icon="IMAGE_DATA", translate=False
            )
        layout.operator("aipipe.images_load_takes", icon="IMAGE")


class AIPIPE_PT_images_vse(SequencerPanel, bpy.types.Panel):
    bl_idname = "AIPIPE_PT_images_vse"
    bl_label = "Takes"

    def draw(self, context: Any) -> None:
        layout = self.layout
        if not runtime.is_online():
            layout.label(text="Log in to generate takes", icon="INFO")
            return
        st = state()
        layout.operator(
            "aipipe.images_generate", text="Generate for selected strips", icon="RENDER_STILL"
        ).source = "STRIPS"
        if st.arrived:
            # Strips are not swapped behind the editor's back: Update media puts each shot's current media
            # (an approved or pinned first frame) on them; new takes are stepped through with Alt+Page keys.
            row = layout.row(align=True)
            row.label(
                text=iface("{count} takes arrived", count=st.arrived), icon="IMAGE_DATA", translate=False
            )
            row.operator("aipipe.editorial_update_media", icon="FILE_REFRESH").swap = True
        box = layout.box()
        box.label(text="Compare")
        row = box.row(align=True)
        row.operator("aipipe.editorial_step_version", text="", icon="TRIA_LEFT").step = -1
        row.operator("aipipe.images_vse_wipe", icon="IMAGE_REFERENCE")
        row.operator("aipipe.editorial_step_version", text="", icon="TRIA_RIGHT").step = 1
        row = box.row(align=True)
        row.operator("aipipe.images_vse_wipe", text="Side by side", icon="SPLIT_HORIZONTAL").layout = "SIDE"
        row.operator("aipipe.images_vse_wipe_clear", icon="X")
        box.operator("aipipe.images_load_takes", icon="IMAGE")
        shown, unlisted = vse_compared_takes(context)
        for take in shown:  # prompts and parameters of what the strips show
            draw_provenance(layout, take)
        if unlisted:
            layout.label(text="Load takes to see their prompts and parameters", icon="INFO")
        draw_review(layout, "VSE")
        pending = len(review.pending_marker_notes(context.scene))
        layout.operator(
            "aipipe.images_send_markers",
            text=iface("Send {count} marker notes", count=pending) if pending else iface("Send marker notes"),
            icon="MARKER_HLT",
            translate=False,
        )
        draw_activity(layout, runtime.get())


class AIPIPE_PT_images_image(ImageEditorPanel, bpy.types.Panel):
    bl_idname = "AIPIPE_PT_images_image"
    bl_label = "Takes"

    def draw(self, context: Any) -> None:
        layout = self.layout
        if not runtime.is_online():
            layout.label(text="Log in to compare takes", icon="INFO")
            return
        st = state()
        layout.operator("aipipe.images_load_takes", icon="IMAGE")
        if not len(st.takes):
            layout.label(text="No takes loaded", icon="INFO")
            draw_activity(layout, runtime.get())
            return
        layout.label(text=st.shot_code, icon="SEQUENCE", translate=False)
        layout.template_list("AIPIPE_UL_images_takes", "", st, "takes", st, "take_index", rows=4)
        row = layout.row(align=True)
        row.operator("aipipe.images_step_take", text="", icon="TRIA_LEFT").step = -1
        row.prop(st, "mode", text="")
        row.operator("aipipe.images_step_take", text="", icon="TRIA_RIGHT").step = 1
        row = layout.row(align=True)
        row.operator("aipipe.images_flip", icon="ARROW_LEFTRIGHT")
        row.prop(st, "show", expand=True)
        if st.mode == "WIPE":
            layout.prop(st, "wipe", slider=True)
        layout.operator("aipipe.images_show", icon="FILE_REFRESH")
        take = shown_take()
        if take is not None:
            draw_provenance(layout, take)
        draw_review(layout, "IMAGE")
        draw_activity(layout, runtime.get())


CLASSES = (AIPIPE_UL_images_takes, AIPIPE_PT_images, AIPIPE_PT_images_vse, AIPIPE_PT_images_image)


def register() -> None:
    register_classes(CLASSES)


def unregister() -> None:
    unregister_classes(CLASSES)
