"""Browse and edit shots: project picker, shot list, details form with revision-checked saving."""

from __future__ import annotations

from typing import Any

import bpy
from bpy.props import IntProperty

from .. import runtime
from ..core.client import ApiError
from ..core.events import is_older
from ..i18n import iface, tip
from ..registry import ensure_online, register_classes, unregister_classes
from . import history, opsdata, thumbnails

PAGE = 5000


def browser() -> Any:
    return bpy.context.window_manager.aipipe


# -- loading ---------------------------------------------------------------------------------------------


def load_projects() -> None:
    rt = runtime.get()

    def fetch(_ctx: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        client = rt.require_client()
        projects = client.get("/api/projects", {"limit": 500, "sort": "code"})["items"]
        return projects, client.get("/api/storage")

    def apply(result: tuple[list[dict[str, Any]], dict[str, Any]]) -> None:
        projects, storage = result
        rt.store("projects", projects)
        rt.extras["storage"] = storage
        state = browser()
        current = rt.extras.get("project_id")
        if projects and current not in rt.table("projects"):
            state.project = str(projects[0]["id"])  # runs select_project
        elif current:
            load_shots(current)

    rt.run("Loading projects", fetch, apply)


def select_project(project_id: str) -> None:
    rt = runtime.get()
    if not project_id or rt.extras.get("project_id") == project_id and rt.table("shots"):
        return
    rt.extras["project_id"] = project_id
    rt.table("shots").clear()
    browser().shots.clear()
    rt.start_listening(project_id)
    load_shots(project_id)


def load_shots(project_id: str) -> None:
    """Shots and what their form needs (presets, environments, characters, scenes, naming)."""
    rt = runtime.get()

    def fetch(ctx: Any) -> dict[str, Any]:
        client = rt.require_client()
        out: dict[str, Any] = {}
        for i, kind in enumerate(("shots", "presets", "environments", "characters", "scenes")):
            ctx.progress(i / 6, kind)
            params = {"limit": PAGE} if kind != "shots" else {"limit": PAGE, "sort": "order"}
            out[kind] = client.get(f"/api/projects/{project_id}/{kind}", params)["items"]
        out["naming"] = client.get(f"/api/projects/{project_id}/naming")
        return out

    def apply(data: dict[str, Any]) -> None:
        if rt.extras.get("project_id") != project_id:
            return  # the artist picked another project meanwhile
        for kind in ("shots", "presets", "environments", "characters", "scenes"):
            rt.store(kind, data[kind])
        rt.extras["naming"] = data["naming"]["templates"]
        fill_list()
        thumbnails.fetch([str(s["id"]) for s in data["shots"]])
        state = browser()
        if state.form.shot_id in rt.table("shots"):
            if not form_dirty():
                load_form(state.form.shot_id)
        elif len(state.shots):
            state.shot_index = 0

    rt.run("Loading shots", fetch, apply)


def fill_list() -> None:
    rt = runtime.get()
    state = browser()
    selected = state.shots[state.shot_index].id if 0 <= state.shot_index < len(state.shots) else ""
    state.shots.clear()
    shots = sorted(rt.table("shots").values(), key=lambda s: (s.get("order", 0), s.get("code", "")))
    for shot in shots:
        item = state.shots.add()
        item.id, item.code, item.status = str(shot["id"]), shot["code"], shot["status"]
        item.duration_frames = int(shot["duration_frames"])
        item.description = (shot.get("description") or "")[:120]
        item.locked = bool(shot.get("locked"))
    ids = [s.id for s in state.shots]
    if selected in ids and ids.index(selected) != state.shot_index:
        state["shot_index"] = ids.index(selected)  # no update callback: the form stays as it is


def project() -> dict[str, Any] | None:
    rt = runtime.get()
    return rt.table("projects").get(rt.extras.get("project_id") or "")


# -- the form --------------------------------------------------------------------------------------------


def form_values(form: Any) -> dict[str, Any]:
    return {
        "description": form.description,
        "action": form.action,
        "duration_frames": form.duration_frames,
        "preset_id": None if form.preset == "NONE" else form.preset,
        "environment_id": None if form.environment == "NONE" else form.environment,
        "render_recipe": None if form.recipe == "NONE" else form.recipe,
        "subjects": [
            {"character_id": s.character, "clothing": s.clothing}
            for s in form.subjects
            if s.character != "NONE"
        ],
    }


def _set_enum(owner: Any, name: str, value: str | None) -> None:
    try:
        setattr(owner, name, value or "NONE")
    except TypeError:
        setattr(owner, name, "NONE")


def fill_form(values: dict[str, Any]) -> None:
    form = browser().form
    form.description = values.get("description") or ""
    form.action = values.get("action") or ""
    form.duration_frames = int(values.get("duration_frames") or 1)
    _set_enum(form, "preset", values.get("preset_id"))
    _set_enum(form, "environment", values.get("environment_id"))
    _set_enum(form, "recipe", values.get("render_recipe"))
    form.subjects.clear()
    for subject in values.get("subjects") or []:
        if isinstance(subject, (tuple, list)):
            subject = {"character_id": subject[0], "clothing": subject[1]}
        item = form.subjects.add()
        _set_enum(item, "character", str(subject["character_id"]))
        item.clothing = subject.get("clothing") or ""


def load_form(shot_id: str) -> None:
    """Put the cached shot into the form; it becomes the base the artist's edits are compared with."""
    rt = runtime.get()
    record = rt.table("shots").get(shot_id)
    if record is None:
        return
    form = browser().form
    form.shot_id, form.code, form.revision = shot_id, record["code"], int(record["revision"])
    form.conflict, form.conflict_fields, form.changed_on_server = False, "", False
    rt.extras["form_base"] = record
    fill_form(record)
    history.load_history(shot_id)


def form_dirty() -> bool:
    rt = runtime.get()
    base = rt.extras.get("form_base")
    return bool(base) and bool(opsdata.changed(base, form_values(browser().form)))


def _on_shot_event(event: dict[str, Any]) -> None:
    rt = runtime.get()
    data = event.get("data") or {}
    shot_id = str(event.get("entity_id") or data.get("id") or "")
    if not shot_id or str(data.get("project_id", "")) != rt.extras.get("project_id"):
        return
    if event.get("action") == "shot.deleted":
        rt.table("shots").pop(shot_id, None)
    elif is_older(rt.table("shots").get(shot_id), data):
        return  # an import's update that arrives after an edit made on top of it
    else:
        rt.table("shots")[shot_id] = data
    fill_list()
    form = browser().form
    if form.shot_id == shot_id and event.get("action") == "shot.updated":
        if form_dirty():
            form.changed_on_server = True
        elif int(data.get("revision", 0)) != form.revision:
            load_form(shot_id)


def _on_session(event: dict[str, Any]) -> None:
    if event.get("action") == "session.login":
        load_projects()
    else:
        state = browser()
        state.shots.clear()
        runtime.get().extras.pop("project_id", None)


def save_form(overwrite: bool = False) -> bool:
    """PATCH the fields the artist changed, with the revision they started from. Returns False when
    there is nothing to send. A 409 merges: fields only the artist changed are re-sent on the new
    revision; fields both sides changed stop as a conflict the artist resolves (reload or overwrite)."""
    rt = runtime.get()
    form = browser().form
    base = rt.extras.get("form_base") or {}
    mine = form_values(form)
    theirs = rt.extras.get("form_theirs") if overwrite else None
    fields = opsdata.changed(base, mine)
    if not fields:
        return False
    revision = int(theirs["revision"]) if theirs else form.revision
    body = opsdata.to_body(opsdata.form_of(mine), fields)
    shot_id, code = form.shot_id, form.code

    def send(_ctx: Any) -> dict[str, Any]:
        path = f"/api/shots/{shot_id}"
        return rt.require_client().request("PATCH", path, body, headers={"If-Match": f'"{revision}"'}).data

    def saved(record: dict[str, Any]) -> None:
        rt.table("shots")[shot_id] = record
        rt.extras.pop("form_theirs", None)
        fill_list()
        if browser().form.shot_id == shot_id:
            load_form(shot_id)
        rt.report(iface("{shot} saved (revision {revision})", shot=code, revision=record["revision"]))

    def refused(exc: BaseException) -> None:
        if not isinstance(exc, ApiError) or exc.status != 409 or exc.current is None:
            return
        current = exc.current
        rt.table("shots")[shot_id] = current
        merged, conflicts = opsdata.merge(base, mine, current)
        if browser().form.shot_id != shot_id:
            return
        if not conflicts:
            rt.extras["form_base"] = current
            form.revision = int(current["revision"])
            fill_form(merged)
            rt.report(
                iface("{shot} changed on the server meanwhile; merged, saving again", shot=code), "WARNING"
            )
            save_form()
            return
        rt.extras["form_theirs"] = current
        form.conflict, form.conflict_fields = True, ", ".join(conflicts)
        rt.report(
            iface(
                "{shot}: someone else changed {fields} too. Reload or overwrite.",
                shot=code,
                fields=form.conflict_fields,
            ),
            "WARNING",
        )

    rt.run(iface("Saving {shot}", shot=code), send, saved, refused)
    return True


def keep_artist_text(code: str, values: dict[str, Any], fields: list[str]) -> str:
    """Write the artist's values of `fields` into a Text datablock so reloading loses nothing."""
    name = f"AIPipeline {code} (your edit)"
    text = bpy.data.texts.get(name) or bpy.data.texts.new(name)
    text.clear()
    for field in fields:
        text.write(f"## {field}\n{values.get(field)}\n\n")
    return name


# -- operators -------------------------------------------------------------------------------------------


class AIPIPE_OT_shots_refresh(bpy.types.Operator):
    """Reload projects and the shot list from the server"""

    bl_idname = "aipipe.shots_refresh"
    bl_label = "Refresh"
    bl_options = {"INTERNAL"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return ensure_online(cls, context)

    def execute(self, context: bpy.types.Context) -> set[str]:
        load_projects()
        return {"FINISHED"}


class AIPIPE_OT_shots_save(bpy.types.Operator):
    """Save the shot's details to the server (refused if someone saved in between; nothing is lost)"""

    bl_idname = "aipipe.shots_save"
    bl_label = "Save shot"
    bl_options = {"INTERNAL"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if not ensure_online(cls, context):
            return False
        form = context.window_manager.aipipe.form
        if not form.shot_id:
            cls.poll_message_set(tip("Pick a shot in the list first"))
            return False
        if form.conflict:
            cls.poll_message_set(tip("Resolve the conflict first: reload or overwrite"))
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        if not save_form():
            self.report({"INFO"}, iface("Nothing changed"))
        return {"FINISHED"}


class AIPIPE_OT_shots_conflict_reload(bpy.types.Operator):
    """Take the server's version; your conflicting text is kept in a Text datablock"""

    bl_idname = "aipipe.shots_conflict_reload"
    bl_label = "Reload theirs"
    bl_options = {"INTERNAL"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        rt = runtime.get()
        form = context.window_manager.aipipe.form
        theirs = rt.extras.pop("form_theirs", None)
        if theirs is None:
            return {"CANCELLED"}
        base = rt.extras.get("form_base") or {}
        mine = form_values(form)
        merged, conflicts = opsdata.merge(base, mine, theirs)
        kept = keep_artist_text(form.code, mine, conflicts)
        for field in conflicts:
            merged[field] = opsdata.normalise(field, theirs.get(field))
        rt.extras["form_base"] = theirs
        form.revision = int(theirs["revision"])
        form.conflict, form.conflict_fields, form.changed_on_server = False, "", False
        fill_form(merged)
        rt.report(iface("Reloaded {shot}; your text is in the Text '{text}'", shot=form.code, text=kept))
        return {"FINISHED"}


class AIPIPE_OT_shots_conflict_overwrite(bpy.types.Operator):
    """Save your values over the server's changes to the same fields"""

    bl_idname = "aipipe.shots_conflict_overwrite"
    bl_label = "Overwrite"
    bl_options = {"INTERNAL"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return ensure_online(cls, context)

    def execute(self, context: bpy.types.Context) -> set[str]:
        form = context.window_manager.aipipe.form
        form.conflict = False
        save_form(overwrite=True)
        return {"FINISHED"}


class AIPIPE_OT_shots_subject_add(bpy.types.Operator):
    """Add a character to the shot"""

    bl_idname = "aipipe.shots_subject_add"
    bl_label = "Add subject"
    bl_options = {"INTERNAL"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        context.window_manager.aipipe.form.subjects.add()
        return {"FINISHED"}


class AIPIPE_OT_shots_subject_remove(bpy.types.Operator):
    """Remove this character from the shot"""

    bl_idname = "aipipe.shots_subject_remove"
    bl_label = "Remove subject"
    bl_options = {"INTERNAL"}

    index: IntProperty()  # type: ignore[valid-type]

    def execute(self, context: bpy.types.Context) -> set[str]:
        subjects = context.window_manager.aipipe.form.subjects
        if 0 <= self.index < len(subjects):
            subjects.remove(self.index)
        return {"FINISHED"}


CLASSES = (
    AIPIPE_OT_shots_refresh,
    AIPIPE_OT_shots_save,
    AIPIPE_OT_shots_conflict_reload,
    AIPIPE_OT_shots_conflict_overwrite,
    AIPIPE_OT_shots_subject_add,
    AIPIPE_OT_shots_subject_remove,
)


def register() -> None:
    register_classes(CLASSES)
    rt = runtime.get()
    rt.subscribe("shot.", _on_shot_event)
    rt.subscribe("session.", _on_session)


def unregister() -> None:
    if runtime.is_ready():
        rt = runtime.get()
        rt.unsubscribe(_on_shot_event)
        rt.unsubscribe(_on_session)
    unregister_classes(CLASSES)
