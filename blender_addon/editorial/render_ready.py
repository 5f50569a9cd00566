"""Render ready shots from the VSE: queue the chosen recipe for every confirmed shot of the project (or only
the selected strips' shots) in one request, report what was queued and what was skipped and why, follow the
jobs from live events, and put each published render / interp / upscale version back onto the strips it
was queued from (same channel, frames and cut; one undo step each). The logic is in `render_ready_core`."""

from __future__ import annotations

from typing import Any

import bpy
from bpy.props import BoolProperty, EnumProperty

from .. import compat, runtime
from ..connect.ui import WRAP_WIDTH, SequencerPanel
from ..core.client import ApiError
from ..core.textwrap import wrap
from ..i18n import iface, tip
from ..registry import (
    ensure_project,
    register_classes,
    register_properties,
    unregister_classes,
    unregister_properties,
)
from ..shared import editorial as shared_editorial
from . import render_ready_core as core
from . import vse
from .fetch import local_media

STATE = "render_ready"  # runtime extras: the RenderReady being followed
RECIPES_FOR = "recipes_project"  # runtime extras: the project whose recipes the "recipes" table holds
DEFAULT_ITEM = ("DEFAULT", "Each shot's recipe", "The recipe chosen on each shot, else the project's default")


def state(rt: Any) -> core.RenderReady:
    return rt.extras.setdefault(STATE, core.RenderReady())  # type: ignore[no-any-return]


# -- recipes ---------------------------------------------------------------------------------------------


def load_recipes(rt: Any, project_id: str) -> None:
    """Fetch the project's recipes on the worker into the "recipes" table (keyed by name)."""
    rt.extras[RECIPES_FOR] = project_id

    def fetch(_ctx: Any) -> Any:
        try:
            return rt.require_client().get(f"/api/projects/{project_id}/recipes")
        except ApiError as exc:
            if exc.status != 404:
                raise
            return None  # a server without recipes: the menu offers each shot's (the server's) choice

    def done(answer: Any) -> None:
        if rt.extras.get(RECIPES_FOR) == project_id:  # the artist may have picked another project
            rt.store("recipes", [{**r, "id": str(r["name"])} for r in core.recipes_of(answer)])

    rt.run("Loading recipes", fetch, done)


def ensure_recipes(rt: Any, project_id: str) -> None:
    """Load the project's recipes once (panels call this from `draw`; the fetch runs on the worker)."""
    if project_id and rt.extras.get(RECIPES_FOR) != project_id:
        rt.table("recipes").clear()
        load_recipes(rt, project_id)


def recipe_items(_self: Any, _context: Any) -> list[tuple[str, str, str, str, int]]:
    if not runtime.is_ready():
        return core.recipe_items([], DEFAULT_ITEM)
    rt = runtime.get()
    items = core.recipe_items(list(rt.table("recipes").values()), DEFAULT_ITEM)
    rt.extras.setdefault("enum_items", {})["render_ready_recipes"] = items  # Blender needs them alive
    return items


# -- the project's auto_render ---------------------------------------------------------------------------

AUTO_PENDING = "auto_render_pending"  # runtime extras: project id -> the value being saved


def _current_project(rt: Any) -> dict[str, Any] | None:
    return rt.table("projects").get(runtime.current_project_id())


def auto_render_get(_self: Any) -> bool:
    """The checkbox shows the server's value (or the one being saved), never a local copy of its own."""
    if not runtime.is_ready():
        return False
    rt = runtime.get()
    project = _current_project(rt)
    if project is None:
        return False
    pending = rt.extras.get(AUTO_PENDING, {})
    return bool(pending.get(str(project["id"]), project.get("auto_render")))


def auto_render_set(_self: Any, value: bool) -> None:
    if runtime.is_ready() and runtime.is_online():
        project = _current_project(runtime.get())
        if project is not None and bool(project.get("auto_render")) != value:
            save_auto_render(runtime.get(), project, value)


def save_auto_render(rt: Any, project: dict[str, Any], value: bool) -> None:
    """PATCH the project's `auto_render` at the revision the add-on holds; the answer (or, on a conflict,
    the project as it now is) replaces the add-on's record."""
    project_id = str(project["id"])
    pending = rt.extras.setdefault(AUTO_PENDING, {})
    pending[project_id] = value

    def done(answer: dict[str, Any]) -> None:
        pending.pop(project_id, None)
        rt.store("projects", [answer], replace=False)
        text = (
            "{project}: shots render when their first frame is approved"
            if answer.get("auto_render")
            else "{project}: shots render only when asked"
        )
        rt.report(iface(text, project=answer["code"]))

    def failed(exc: BaseException) -> None:
        pending.pop(project_id, None)
        if isinstance(exc, ApiError) and exc.current:
            rt.store("projects", [exc.current], replace=False)

    body = {"auto_render": value, "revision": project["revision"]}
    rt.send("Saving automatic renders", "PATCH", f"/api/projects/{project_id}", body, done, failed)


def _on_project(event: dict[str, Any]) -> None:
    """Another client changed the project: the checkbox shows its new value."""
    data = event.get("data") or {}
    rt = runtime.get()
    if (
        data.get("id")
        and str(data["id"]) in rt.table("projects")
        and event.get("action") == "project.updated"
    ):
        rt.store("projects", [data], replace=False)


class AIPIPE_PG_render_ready(bpy.types.PropertyGroup):
    recipe: EnumProperty(  # type: ignore[valid-type]
        name="Recipe", description="The recipe to queue for each shot", items=recipe_items
    )
    auto_render: BoolProperty(  # type: ignore[valid-type]
        name="Render automatically",
        description=(
            "Queue a shot's recipe as soon as its first frame is approved (the project's auto_render; "
            "a director or an admin may change it)"
        ),
        get=auto_render_get,
        set=auto_render_set,
    )


# -- queueing --------------------------------------------------------------------------------------------


def _targets(scene: Any, shot_ids: list[str] | None) -> dict[str, list[core.Target]]:
    """The edit's strips of `shot_ids` (every strip when None), by shot."""
    out: dict[str, list[core.Target]] = {}
    for strip in vse.picture_strips(scene):
        shot_id = str(strip[vse.SHOT_ID])
        if shot_ids is None or shot_id in shot_ids:
            out.setdefault(shot_id, []).append(core.Target(scene.name, strip.name))
    return out


def queued(rt: Any, answer: dict[str, Any], targets: dict[str, list[core.Target]]) -> None:
    """The server's answer (main thread): follow its jobs and report queued and skipped shots."""
    state(rt).track(answer, targets)
    text = "; ".join(core.line_text(line, iface) for line in core.report_lines(answer))
    rt.report(text, "WARNING" if answer.get("skipped") else "INFO")


class AIPIPE_OT_editorial_render_ready(bpy.types.Operator):
    """Queue the recipe for every confirmed shot ready to render, or only the selected strips' shots"""

    bl_idname = "aipipe.editorial_render_ready"
    bl_label = "Render ready shots"
    bl_options = {"REGISTER"}  # no UNDO: the results land later, each its own undo step (undo.py)

    @classmethod
    def poll(cls, context: Any) -> bool:
        return ensure_project(cls, context)

    def execute(self, context: Any) -> set[str]:
        rt = runtime.get()
        scene = context.scene
        chosen = core.chosen_shots((str(s[vse.SHOT_ID]), bool(s.select)) for s in vse.picture_strips(scene))
        targets = _targets(scene, chosen)
        body = core.request_body(context.window_manager.aipipe_render_ready.recipe, chosen)
        project_id = runtime.current_project_id()
        rt.send(
            "Queueing ready shots",
            "POST",
            f"/api/projects/{project_id}/render-ready",
            body,
            lambda answer: queued(rt, answer, targets),
        )
        return {"FINISHED"}


class AIPIPE_OT_editorial_recipes_refresh(bpy.types.Operator):
    """Load the project's render recipes again from the server"""

    bl_idname = "aipipe.editorial_recipes_refresh"
    bl_label = "Refresh recipes"
    bl_options = {"INTERNAL"}

    @classmethod
    def poll(cls, context: Any) -> bool:
        return ensure_project(cls, context)

    def execute(self, context: Any) -> set[str]:
        load_recipes(runtime.get(), runtime.current_project_id())
        return {"FINISHED"}


class AIPIPE_OT_editorial_render_ready_clear(bpy.types.Operator):
    """Stop listing the shots whose render jobs have all ended"""

    bl_idname = "aipipe.editorial_render_ready_clear"
    bl_label = "Clear finished"
    bl_options = {"INTERNAL"}

    @classmethod
    def poll(cls, context: Any) -> bool:
        if not runtime.is_ready() or not state(runtime.get()).jobs:
            cls.poll_message_set(tip("No render jobs are followed"))
            return False
        return True

    def execute(self, context: Any) -> set[str]:
        rt = runtime.get()
        state(rt).forget_finished()
        state(rt).answer = {}
        return {"FINISHED"}


# -- following the jobs and bringing the results back ----------------------------------------------------


def _on_job(event: dict[str, Any]) -> None:
    state(runtime.get()).on_job(event.get("data") or {})  # the panel redraws after every event


def _strip(target: core.Target, shot_id: str) -> Any:
    """The strip a result goes onto, if it is still there and still shows the shot."""
    scene = bpy.data.scenes.get(target.scene)
    if scene is None:
        return None
    strip = next((s for s in vse.picture_strips(scene) if s.name == target.strip), None)
    return strip if strip is not None and str(strip[vse.SHOT_ID]) == shot_id else None


def apply_result(rt: Any, shot_id: str, version: dict[str, Any], path: str | None) -> int:
    """Show `version` (its file at `path`) in place of the media of the shot's strips (main thread); with no
    `path` it is only recorded and reported. Returns how many strips show it."""
    st = state(rt)
    if st.result_shot(version) != shot_id:  # a later step's result landed first
        return 0
    file = core.media_file(version) or {}
    still = str(file.get("mime", "")).startswith("image/")
    handle, frames = (0, None) if still else shared_editorial.movie_extent(version)
    label = f"{version['stage']} v{int(version['number']):03d}"
    swapped = 0
    for target in st.targets.get(shot_id, []) if path else []:
        strip = _strip(target, shot_id)
        if strip is None:
            rt.report(
                iface("{strip} is gone; {version} was not put in", strip=target.strip, version=label),
                "WARNING",
            )
            continue
        scene = bpy.data.scenes[target.scene]
        start, end = compat.strip_range(strip)
        new = vse.replace_media(
            scene, strip, path, still, handle, str(version["id"]), shared_editorial.media_first_frame(version)
        )
        vse.flag_short(new, shared_editorial.missing_frames(end - start, handle, frames))
        swapped += 1
    st.mark_shown(shot_id, version)
    if swapped:
        rt.report(
            iface("{shot}: {version} from the farm is in the edit", shot=_code(st, shot_id), version=label)
        )
    else:
        rt.report(iface("{shot}: {version} from the farm is ready", shot=_code(st, shot_id), version=label))
    return swapped


def _code(st: core.RenderReady, shot_id: str) -> str:
    return next((j.shot_code for j in st.jobs.values() if j.shot_id == shot_id), shot_id)


def _on_version(event: dict[str, Any]) -> None:
    rt = runtime.get()
    version = event.get("data") or {}
    shot_id = state(rt).result_shot(version)
    if shot_id is None:
        return
    file = core.media_file(version)
    if file is None or not state(rt).targets.get(shot_id):
        apply_result(rt, shot_id, version, None)  # no strip, or no movie to show on it
        return
    rt.run(
        "Loading the render",
        lambda _ctx: local_media(rt, dict(file)),
        lambda path: apply_result(rt, shot_id, version, path),
        undo="Render result",
        long=True,
    )


# -- the panel -------------------------------------------------------------------------------------------


class AIPIPE_PT_editorial_render_ready(SequencerPanel, bpy.types.Panel):
    bl_idname = "AIPIPE_PT_editorial_render_ready"
    bl_label = "Render ready shots"

    def draw(self, context: Any) -> None:
        layout = self.layout
        if not runtime.is_online() or not runtime.current_project_id():
            layout.label(text="Log in and pick a project to render its ready shots", icon="INFO")
            return
        rt = runtime.get()
        ensure_recipes(rt, runtime.current_project_id())
        row = layout.row(align=True)
        row.prop(context.window_manager.aipipe_render_ready, "recipe", text="")
        row.operator("aipipe.editorial_recipes_refresh", text="", icon="FILE_REFRESH")
        layout.prop(context.window_manager.aipipe_render_ready, "auto_render")
        selected = core.chosen_shots(
            (str(s[vse.SHOT_ID]), bool(s.select)) for s in vse.picture_strips(context.scene)
        )
        if selected:
            layout.label(
                text=iface("Only the selected strips' shots ({count})", count=len(selected)), translate=False
            )
        else:
            layout.label(text="Every confirmed shot of the project")
        layout.operator("aipipe.editorial_render_ready", icon="RENDER_ANIMATION")
        st = state(rt)
        for line in core.report_lines(st.answer)[1:] if st.answer else []:
            for text in wrap(core.line_text(line, iface), WRAP_WIDTH):
                layout.label(text=text, icon="ERROR", translate=False)
        rows = st.shots()
        if not rows:
            return
        box = layout.box()
        box.label(text=iface("Render jobs: {active} running or queued", active=st.active()), translate=False)
        for shot in rows:
            text = iface(
                "{shot}: {done}/{total} steps", shot=shot.shot_code, done=shot.done, total=shot.total
            )
            if shot.running:
                text += "  " + iface(
                    "{stage} {percent}%", stage=shot.running, percent=round(shot.progress * 100)
                )
            if shot.failed:
                text += "  " + iface("{count} failed or cancelled", count=shot.failed)
            if shot.shown:
                text += "  " + iface("shows {version}", version=shot.shown)
            icon = "ERROR" if shot.failed else "CHECKMARK" if shot.done == shot.total else "TIME"
            box.label(text=text, icon=icon, translate=False)
        box.operator("aipipe.editorial_render_ready_clear", icon="X")


CLASSES = (
    AIPIPE_OT_editorial_render_ready,
    AIPIPE_OT_editorial_recipes_refresh,
    AIPIPE_OT_editorial_render_ready_clear,
    AIPIPE_PT_editorial_render_ready,
)
PROPERTIES = (AIPIPE_PG_render_ready,)
POINTERS = ((bpy.types.WindowManager, "aipipe_render_ready", AIPIPE_PG_render_ready),)


def register() -> None:
    register_properties(PROPERTIES, POINTERS)
    register_classes(CLASSES)
    rt = runtime.get()
    rt.subscribe("job.", _on_job)
    rt.subscribe("version.created", _on_version)
    rt.subscribe("project.", _on_project)


def unregister() -> None:
    if runtime.is_ready():
        runtime.get().unsubscribe(_on_job)
        runtime.get().unsubscribe(_on_version)
        runtime.get().unsubscribe(_on_project)
    unregister_classes(CLASSES)
    unregister_properties(PROPERTIES, POINTERS)
