"""Batch generate: first-frame candidates (takes) for the shots ticked in the shot list or the strips
selected in the VSE, with a small dialog (candidates, seeds, workflow or recipe, control from the
layout)."""

from __future__ import annotations

from typing import Any

import bpy
from bpy.props import BoolProperty, EnumProperty, StringProperty

from .. import compat, runtime
from ..editorial import vse
from ..editorial.render_ready import ensure_recipes
from ..i18n import iface
from ..registry import ensure_project, register_classes, unregister_classes
from ..render.ops import load_workflows
from . import core
from .props import state

SOURCES = (
    ("AUTO", "Automatic", "Selected strips in the sequencer, else the shots ticked in the list"),
    ("SHOTS", "Ticked shots", "The shots ticked in the shot list"),
    ("STRIPS", "Selected strips", "The shots of the strips selected in the sequencer"),
)


def selected_strip_shots(scene: Any) -> list[str]:
    """Shot ids of the selected VSE strips that belong to the edit (takes and compare strips included)."""
    strips = sorted(
        (s for s in compat.vse_all_strips(scene) if s.select and s.get(vse.SHOT_ID)),
        key=lambda s: (compat.strip_range(s)[0], s.channel),
    )
    return core.unique(str(s[vse.SHOT_ID]) for s in strips)


def ticked_shots(context: Any) -> list[str]:
    return core.unique(p.shot_id for p in state().picks)


def chosen_shots(context: Any, source: str) -> list[str]:
    in_sequencer = getattr(context.area, "type", "") == "SEQUENCE_EDITOR"
    if source == "STRIPS" or (source == "AUTO" and in_sequencer):
        return selected_strip_shots(context.scene)
    ticked = ticked_shots(context)
    if source == "AUTO" and not ticked:
        return selected_strip_shots(context.scene)
    return ticked


class AIPIPE_OT_images_generate(bpy.types.Operator):
    """Queue first-frame candidates (takes) on the farm for the ticked shots or the selected strips"""

    bl_idname = "aipipe.images_generate"
    bl_label = "Generate takes"
    bl_options = {"REGISTER"}

    source: EnumProperty(name="Shots", items=SOURCES, default="AUTO")  # type: ignore[valid-type]

    @classmethod
    def poll(cls, context: Any) -> bool:
        return ensure_project(cls, context)

    def invoke(self, context: Any, event: Any) -> set[str]:
        if not runtime.get().table("workflows"):
            load_workflows()
        ensure_recipes(runtime.get(), runtime.current_project_id())
        return context.window_manager.invoke_props_dialog(self)

    def draw(self, context: Any) -> None:
        st = state()
        layout = self.layout
        count = len(chosen_shots(context, self.source))
        layout.label(text=iface("{count} shots", count=count), icon="SEQUENCE", translate=False)
        layout.prop(self, "source")
        layout.prop(st, "candidates")
        row = layout.row(align=True)
        row.prop(st, "seeds")
        row.prop(st, "seed")
        layout.prop(st, "recipe")
        row = layout.row()
        row.enabled = st.recipe == "NONE"
        row.prop(st, "workflow")
        row = layout.row(align=True)
        row.prop(st, "use_control")
        sub = row.row()
        sub.enabled = st.use_control
        sub.prop(st, "control_kind", text="")

    def execute(self, context: Any) -> set[str]:
        st = state()
        shots = chosen_shots(context, self.source)
        try:
            body = core.batch_body(
                shots,
                st.candidates,
                st.seeds,
                st.seed or None,
                st.workflow if st.workflow != "NONE" else None,
                st.control_kind if st.use_control else None,
                recipe=st.recipe if st.recipe != "NONE" else None,
            )
        except ValueError as exc:
            self.report({"ERROR"}, iface(str(exc)))
            return {"CANCELLED"}
        rt = runtime.get()

        def queued(answer: dict[str, Any]) -> None:
            rt.report(
                iface("{count} takes queued for {shots} shots", count=answer["count"], shots=len(shots))
            )

        project_id = runtime.current_project_id()
        rt.send("Queueing takes", "POST", f"/api/projects/{project_id}/takes", body, queued)
        return {"FINISHED"}


class AIPIPE_OT_images_tick(bpy.types.Operator):
    """Tick this shot for Generate takes (or untick it)"""

    bl_idname = "aipipe.images_tick"
    bl_label = "Tick shot"
    bl_options = {"REGISTER", "INTERNAL"}

    shot_id: StringProperty()  # type: ignore[valid-type]
    code: StringProperty()  # type: ignore[valid-type]

    def execute(self, context: Any) -> set[str]:
        picks = state().picks
        index = next((i for i, p in enumerate(picks) if p.shot_id == self.shot_id), -1)
        if index >= 0:
            picks.remove(index)
        else:
            pick = picks.add()
            pick.shot_id, pick.code = self.shot_id, self.code
        return {"FINISHED"}


class AIPIPE_OT_images_tick_all(bpy.types.Operator):
    """Tick every shot in the list (or clear the ticks)"""

    bl_idname = "aipipe.images_tick_all"
    bl_label = "Tick all"
    bl_options = {"REGISTER", "INTERNAL"}

    clear: BoolProperty(name="Clear", default=False)  # type: ignore[valid-type]

    def execute(self, context: Any) -> set[str]:
        picks = state().picks
        picks.clear()
        if not self.clear:
            for shot in context.window_manager.aipipe.shots:
                pick = picks.add()
                pick.shot_id, pick.code = shot.id, shot.code
        return {"FINISHED"}


def ticked(shot_id: str) -> bool:
    return any(p.shot_id == shot_id for p in state().picks)


class AIPIPE_UL_images_shots(bpy.types.UIList):
    """The project's shots with a tick each, for Generate takes."""

    def draw_item(
        self, context: Any, layout: Any, data: Any, item: Any, icon: Any, active_data: Any, active_prop: Any
    ) -> None:
        row = layout.row(align=True)
        on = ticked(item.id)
        op = row.operator(
            "aipipe.images_tick", text="", icon="CHECKBOX_HLT" if on else "CHECKBOX_DEHLT", emboss=False
        )
        op.shot_id, op.code = item.id, item.code
        row.label(text=item.code, translate=False)
        row.label(text=item.status, translate=False)


CLASSES = (
    AIPIPE_OT_images_generate,
    AIPIPE_OT_images_tick,
    AIPIPE_OT_images_tick_all,
    AIPIPE_UL_images_shots,
)


def register() -> None:
    register_classes(CLASSES)


def unregister() -> None:
    unregister_classes(CLASSES)
