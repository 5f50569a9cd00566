"""The VSE panel "Shot cost": the active strip's shot's GPU time, takes, jobs and retries, from
`GET /api/shots/{id}/costs` (fetched on the worker, never in `draw`; kept per shot until refreshed), and the
project's GPU budget warning when the server pushes one (`project.budget_warning`, docs/events.md)."""

from __future__ import annotations

from typing import Any

import bpy

from .. import runtime
from ..connect.ui import SequencerPanel
from ..i18n import iface
from ..registry import register_classes, unregister_classes
from . import vse

CACHE = "shot_costs"  # runtime extras: shot id -> the server's answer, or LOADING / FAILED
BUDGET = "budget_warnings"  # runtime extras: project id -> the data of its last budget warning
LOADING, FAILED = "loading", "failed"


def gpu_time_text(seconds: float) -> str:
    """GPU seconds as people read them: "42 s", "12 min", "3 h 05 min"."""
    if seconds < 60:
        return iface("{seconds} s", seconds=round(seconds))
    minutes = round(seconds / 60)
    if minutes < 60:
        return iface("{minutes} min", minutes=minutes)
    return iface("{hours} h {minutes} min", hours=minutes // 60, minutes=f"{minutes % 60:02d}")


def budget_text(data: dict[str, Any]) -> str:
    """A pushed budget warning as the artist reads it."""
    return iface(
        "{project}: {level} of the GPU budget used ({used} of {hours} h)",
        project=data.get("project_code", ""),
        level=data.get("level", ""),
        used=f"{float(data.get('used_hours') or 0.0):.2f}",
        hours=f"{float(data.get('hours') or 0.0):g}",
    )


def _on_budget_warning(event: dict[str, Any]) -> None:
    rt = runtime.get()
    data = event.get("data") or {}
    rt.extras.setdefault(BUDGET, {})[str(event.get("project_id"))] = data
    rt.report(budget_text(data), "WARNING")


def _cache(rt: Any) -> dict[str, Any]:
    return rt.extras.setdefault(CACHE, {})  # type: ignore[no-any-return]


def request(rt: Any, shot_id: str) -> None:
    """Fetch the shot's costs on the worker; the panel redraws when they arrive (main thread)."""
    cache = _cache(rt)
    cache[shot_id] = LOADING

    def done(data: Any) -> None:
        cache[shot_id] = data

    def failed(_exc: BaseException) -> None:
        cache[shot_id] = FAILED

    rt.send("Loading the shot's cost", "GET", f"/api/shots/{shot_id}/costs", on_done=done, on_error=failed)


class AIPIPE_OT_editorial_costs_refresh(bpy.types.Operator):
    """Load the active strip's shot's GPU time and takes again from the server"""

    bl_idname = "aipipe.editorial_costs_refresh"
    bl_label = "Refresh cost"
    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context: Any) -> bool:
        return runtime.is_online() and vse.active_strip(context) is not None

    def execute(self, context: Any) -> set[str]:
        request(runtime.get(), str(vse.active_strip(context)[vse.SHOT_ID]))
        return {"FINISHED"}


class AIPIPE_PT_editorial_costs(SequencerPanel, bpy.types.Panel):
    bl_idname = "AIPIPE_PT_editorial_costs"
    bl_label = "Shot cost"

    def draw(self, context: Any) -> None:
        layout = self.layout
        if not runtime.is_online():
            layout.label(text="Log in to see the shot's cost", icon="INFO")
            return
        rt = runtime.get()
        warning = rt.extras.get(BUDGET, {}).get(runtime.current_project_id())
        if warning:
            layout.label(text=budget_text(warning), icon="ERROR", translate=False)
        strip = vse.active_strip(context)
        if strip is None:
            layout.label(text="Select a strip of the edit to see its shot's cost", icon="INFO")
            return
        shot_id = str(strip[vse.SHOT_ID])
        costs = _cache(rt).get(shot_id)
        row = layout.row()
        row.label(text=str(strip.get(vse.CODE, strip.name)), icon="SEQUENCE")
        row.operator("aipipe.editorial_costs_refresh", text="", icon="FILE_REFRESH")
        if costs is None:  # queued on the worker: draw never waits for the server
            request(rt, shot_id)
            costs = LOADING
        if costs == LOADING:
            layout.label(text="Loading…")
            return
        if costs == FAILED:
            layout.label(text="The shot's cost could not be loaded", icon="ERROR")
            return
        layout.label(
            text=iface("GPU time: {time}", time=gpu_time_text(float(costs["gpu_seconds"]))),
            icon="MEMORY",
            translate=False,
        )
        layout.label(text=iface("Takes: {count}", count=costs["takes"]), icon="RENDERLAYERS", translate=False)
        layout.label(
            text=iface("Jobs: {jobs}, retries: {retries}", jobs=costs["jobs"], retries=costs["retries"]),
            translate=False,
        )


CLASSES = (AIPIPE_OT_editorial_costs_refresh, AIPIPE_PT_editorial_costs)


def register() -> None:
    register_classes(CLASSES)
    runtime.get().subscribe("project.budget_warning", _on_budget_warning)


def unregister() -> None:
    if runtime.is_ready():
        runtime.get().unsubscribe(_on_budget_warning)
    unregister_classes(CLASSES)
