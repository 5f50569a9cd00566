"""Conform this edit: send the VSE's picture strips (shot, the version each shows, its trims) to the server as
the edit of a conform job, show a refusal on the strips it names, and follow the conform from live events
until its file is made. The logic is in `conform_core`."""

from __future__ import annotations

from typing import Any

import bpy
from bpy.props import BoolProperty, EnumProperty

from .. import compat, runtime
from ..connect.ui import WRAP_WIDTH, SequencerPanel
from ..core.client import ApiError
from ..core.textwrap import wrap
from ..i18n import iface
from ..registry import (
    ensure_project,
    register_classes,
    register_properties,
    unregister_classes,
    unregister_properties,
)
from . import conform_core as core
from . import vse
from .render_ready_core import line_text

STATE = "conform"  # runtime extras: the ConformFollow of the conform sent from here


def state(rt: Any) -> core.ConformFollow:
    return rt.extras.setdefault(STATE, core.ConformFollow())  # type: ignore[no-any-return]


def strip_cuts(scene: Any) -> list[core.StripCut]:
    """The edit's picture strips as the conform reads them (main thread)."""
    cuts = []
    for strip in vse.picture_strips(scene):
        start, end = compat.strip_range(strip)
        cuts.append(
            core.StripCut(
                name=strip.name,
                code=str(strip.get(vse.CODE, strip.name)),
                shot_id=str(strip[vse.SHOT_ID]),
                version_id=str(strip.get(vse.VERSION_ID) or ""),
                start=start,
                end=end,
                offset_start=round(strip.frame_offset_start) if strip.type == "MOVIE" else 0,
                movie=strip.type == "MOVIE",
            )
        )
    return cuts


class AIPIPE_PG_conform(bpy.types.PropertyGroup):
    approved_only: BoolProperty(  # type: ignore[valid-type]
        name="Approved versions only",
        description="Refuse a strip whose version is not approved (off: conform what the strips show)",
        default=True,
    )
    profile: EnumProperty(  # type: ignore[valid-type]
        name="Codec",
        description="The conform's picture codec",
        items=[
            ("h264", "H.264 codec", "H.264 in a .mov"),
            ("h265", "H.265 codec", "H.265 in a .mov"),
            ("prores_hq", "ProRes 422 HQ codec", "ProRes 422 HQ in a .mov"),
        ],
        default="h264",
    )


def _queued(rt: Any, delivery: dict[str, Any]) -> None:
    state(rt).queued(delivery)
    rt.report(iface("Conform {number} queued", number=f"v{int(delivery['number']):03d}"))


def _refused(rt: Any, exc: BaseException) -> None:
    errors = exc.errors if isinstance(exc, ApiError) else []
    detail = exc.message if isinstance(exc, ApiError) else str(exc)
    state(rt).refuse(errors, detail)


class AIPIPE_OT_editorial_conform(bpy.types.Operator):
    """Conform the edit as the VSE shows it: each strip's version, trimmed as the strip is, in strip order"""

    bl_idname = "aipipe.editorial_conform"
    bl_label = "Conform this edit"
    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context: Any) -> bool:
        return ensure_project(cls, context)

    def execute(self, context: Any) -> set[str]:
        rt = runtime.get()
        strips = strip_cuts(context.scene)
        st = state(rt)
        try:
            cuts = core.edit_cuts(strips)
        except core.EditRefused as exc:
            st.sent([])
            st.refused = exc.lines
            self.report({"ERROR"}, "; ".join(line_text(line, iface) for line in exc.lines))
            return {"CANCELLED"}
        st.sent([s.name for s in sorted(strips, key=lambda s: (s.start, s.end))])
        settings = context.window_manager.aipipe_conform
        body = core.request_body(cuts, settings.approved_only, settings.profile)
        rt.send(
            "Sending the edit to conform",
            "POST",
            f"/api/projects/{runtime.current_project_id()}/conform",
            body,
            lambda delivery: _queued(rt, delivery),
            lambda exc: _refused(rt, exc),
        )
        return {"FINISHED"}


def _on_delivery(event: dict[str, Any]) -> None:
    rt = runtime.get()
    st = state(rt)
    before = st.status
    if st.on_delivery(event.get("data") or {}) and st.status != before:
        number = f"v{int(st.delivery.get('number') or 0):03d}"
        if st.status == "succeeded":
            rt.report(iface("Conform {number} is done", number=number))
        elif st.status == "failed":
            rt.report(
                iface("Conform {number} failed: {error}", number=number, error=st.delivery.get("error")),
                "ERROR",
            )


def _on_job(event: dict[str, Any]) -> None:
    state(runtime.get()).on_job(event.get("data") or {})  # the panel redraws after every event


class AIPIPE_PT_editorial_conform(SequencerPanel, bpy.types.Panel):
    bl_idname = "AIPIPE_PT_editorial_conform"
    bl_label = "Conform"

    def draw(self, context: Any) -> None:
        layout = self.layout
        if not runtime.is_online() or not runtime.current_project_id():
            layout.label(text="Log in and pick a project to conform its edit", icon="INFO")
            return
        settings = context.window_manager.aipipe_conform
        row = layout.row(align=True)
        row.prop(settings, "profile", text="")
        row.prop(settings, "approved_only")
        strips = strip_cuts(context.scene)
        frames = sum(s.end - s.start for s in strips)
        layout.label(
            text=iface("{count} strips, {frames} frames, in strip order", count=len(strips), frames=frames),
            translate=False,
        )
        layout.operator("aipipe.editorial_conform", icon="FILE_MOVIE")
        for line in state(runtime.get()).lines():
            for text in wrap(line_text(line, iface), WRAP_WIDTH):
                layout.label(text=text, translate=False)


CLASSES = (AIPIPE_OT_editorial_conform, AIPIPE_PT_editorial_conform)
PROPERTIES = (AIPIPE_PG_conform,)
POINTERS = ((bpy.types.WindowManager, "aipipe_conform", AIPIPE_PG_conform),)


def register() -> None:
    register_properties(PROPERTIES, POINTERS)
    register_classes(CLASSES)
    rt = runtime.get()
    rt.subscribe("delivery.", _on_delivery)
    rt.subscribe("job.", _on_job)


def unregister() -> None:
    if runtime.is_ready():
        runtime.get().unsubscribe(_on_delivery)
        runtime.get().unsubscribe(_on_job)
    unregister_classes(CLASSES)
    unregister_properties(PROPERTIES, POINTERS)
