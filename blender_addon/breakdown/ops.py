"""Breakdown operators: analyse a text datablock on the server, accept or drop items, apply the draft,
and "Create edit": the applied shots as strips in the VSE, one step. Network calls run on the add-on's
worker, never on Blender's main thread."""

from __future__ import annotations

from typing import Any

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, StringProperty

from .. import compat, runtime
from ..i18n import iface, tip
from ..registry import ensure_online, ensure_project, register_classes, unregister_classes
from . import core

# An LLM breakdown of a long script can take many minutes; the request waits that long (the worker is
# busy meanwhile, Blender is not).
BREAKDOWN_WAIT_S = 3600.0
DRAFT = "breakdown_draft"  # runtime.extras key: the draft as the server last returned it
DEFAULT_CHANNEL = 2


def current_draft() -> dict[str, Any] | None:
    return runtime.get().extras.get(DRAFT) if runtime.is_ready() else None


def show_draft(draft: dict[str, Any]) -> None:
    """Keep the server's draft and mirror it into the panel's rows (main thread)."""
    runtime.get().extras[DRAFT] = draft
    state = bpy.context.window_manager.aipipe_breakdown
    state.draft_id = str(draft["id"])
    state.status = str(draft["status"])
    state.summary = core.summary(draft)
    state.rows.clear()
    for row in core.rows(draft):
        item = state.rows.add()
        for name in ("item_id", "kind", "label", "detail", "decision", "merge_into"):
            setattr(item, name, getattr(row, name))


def change_item(label: str, draft: dict[str, Any], item_id: str, body: dict[str, Any]) -> None:
    """PATCH one item of the draft on the worker, then show the draft the server returns."""
    path = f"/api/breakdowns/{draft['id']}/items/{item_id}"
    runtime.get().send(label, "PATCH", path, body, show_draft)


def _poll_draft(cls: type, context: Any, status: str) -> bool:
    if not ensure_online(cls, context):
        return False
    draft = current_draft()
    if draft is None:
        cls.poll_message_set(tip("Break a script down first"))
        return False
    if draft["status"] != status:
        cls.poll_message_set(tip("The breakdown is {status}", status=draft["status"]))
        return False
    return True


class AIPIPE_OT_breakdown_analyse(bpy.types.Operator):
    """Send the chosen text's script to the server and show the draft it makes (nothing is created yet)"""

    bl_idname = "aipipe.breakdown_analyse"
    bl_label = "Break down script"
    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context: Any) -> bool:
        if not ensure_project(cls, context):
            return False
        name = context.window_manager.aipipe_breakdown.text_name
        if not name or name not in bpy.data.texts:
            cls.poll_message_set(tip("Choose the text datablock that holds the script"))
            return False
        return True

    def execute(self, context: Any) -> set[str]:
        state = context.window_manager.aipipe_breakdown
        try:
            body = core.create_body(
                bpy.data.texts[state.text_name].as_string(), state.text_name, state.format, state.engine
            )
        except ValueError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        rt = runtime.get()
        project_id = runtime.current_project_id()

        def send(_ctx: Any) -> dict[str, Any]:
            client = rt.require_client()
            wait, client.timeout_s = client.timeout_s, max(client.timeout_s, BREAKDOWN_WAIT_S)
            try:
                return client.request("POST", f"/api/projects/{project_id}/breakdowns", body).data
            finally:
                client.timeout_s = wait

        def done(draft: dict[str, Any]) -> None:
            show_draft(draft)
            rt.report(iface("Breakdown ready: {summary}", summary=core.summary(draft)))

        rt.run("Breaking the script down", send, done, long=True)  # an LLM may take minutes
        return {"FINISHED"}


class AIPIPE_OT_breakdown_decide(bpy.types.Operator):
    """Accept or drop one character, environment, scene or shot of the draft"""

    bl_idname = "aipipe.breakdown_decide"
    bl_label = "Decide"
    bl_options = {"INTERNAL"}

    item_id: StringProperty()  # type: ignore[valid-type]
    decision: EnumProperty(  # type: ignore[valid-type]
        items=[(d, d.title(), "") for d in core.DECISIONS], default="accepted"
    )

    @classmethod
    def poll(cls, context: Any) -> bool:
        return _poll_draft(cls, context, "draft")

    def execute(self, context: Any) -> set[str]:
        draft = current_draft()
        assert draft is not None
        body = {"decision": self.decision, "revision": draft["revision"]}
        text = {"accepted": "Accepting {item}", "dropped": "Dropping {item}"}.get(
            self.decision, "Editing {item}"
        )
        change_item(iface(text, item=self.item_id), draft, self.item_id, body)
        return {"FINISHED"}


class AIPIPE_OT_breakdown_edit_item(bpy.types.Operator):
    """Edit a character, environment, scene or shot of the draft before it is applied"""

    bl_idname = "aipipe.breakdown_edit_item"
    bl_label = "Edit item"
    bl_options = {"INTERNAL"}

    item_id: StringProperty()  # type: ignore[valid-type]
    # One property per editable field; the dialog shows those of the item's kind (core.EDIT_FIELDS).
    name: StringProperty(name="Name")  # type: ignore[valid-type]
    aliases: StringProperty(name="Aliases", description="Comma-separated")  # type: ignore[valid-type]
    description: StringProperty(name="Description")  # type: ignore[valid-type]
    clothing: StringProperty(name="Clothing options", description="Comma-separated")  # type: ignore[valid-type]
    role: StringProperty(name="Role")  # type: ignore[valid-type]
    location: StringProperty(name="Location")  # type: ignore[valid-type]
    time_of_day: StringProperty(name="Time of day")  # type: ignore[valid-type]
    weather: StringProperty(name="Weather")  # type: ignore[valid-type]
    mood: StringProperty(name="Mood")  # type: ignore[valid-type]
    prompt: StringProperty(name="Prompt")  # type: ignore[valid-type]
    number: StringProperty(name="Number")  # type: ignore[valid-type]
    heading: StringProperty(name="Heading")  # type: ignore[valid-type]
    action: StringProperty(name="Action")  # type: ignore[valid-type]
    dialogue: StringProperty(name="Dialogue")  # type: ignore[valid-type]
    preset: StringProperty(name="Cinematic preset", description="A preset name; empty: none")  # type: ignore[valid-type]
    camera_notes: StringProperty(name="Camera notes")  # type: ignore[valid-type]
    duration_s: FloatProperty(name="Seconds", min=0.0, max=600.0)  # type: ignore[valid-type]
    prefilled: BoolProperty(default=False, options={"HIDDEN", "SKIP_SAVE"})  # type: ignore[valid-type]

    @classmethod
    def poll(cls, context: Any) -> bool:
        return _poll_draft(cls, context, "draft")

    def _item(self) -> dict[str, Any]:
        draft = current_draft()
        assert draft is not None
        return core.find_item(draft, self.item_id)

    def invoke(self, context: Any, _event: Any) -> set[str]:
        try:
            values = core.edit_values(self._item())
        except ValueError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        for field, value in values.items():
            setattr(self, field, value)
        self.prefilled = True
        return context.window_manager.invoke_props_dialog(self, width=480)

    def draw(self, _context: Any) -> None:
        for field, _label, _kind in core.EDIT_FIELDS[core.kind_of(self.item_id)]:
            self.layout.prop(self, field)

    def execute(self, context: Any) -> set[str]:
        draft = current_draft()
        assert draft is not None
        try:
            item = self._item()
            kind = core.kind_of(self.item_id)
            # Run without the dialog (scripts, tests): only the fields given are edits.
            given = {
                f
                for f, _l, _k in core.EDIT_FIELDS[kind]
                if self.prefilled or self.properties.is_property_set(f)
            }
            edited = {f: getattr(self, f) for f in given}
            body = core.item_changes(item, edited, draft["revision"])
        except ValueError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        if set(body) == {"revision"}:
            self.report({"INFO"}, iface("{item}: nothing changed", item=self.item_id))
            return {"CANCELLED"}
        change_item(iface("Editing {item}", item=self.item_id), draft, self.item_id, body)
        return {"FINISHED"}


class AIPIPE_OT_breakdown_apply(bpy.types.Operator):
    """Create the draft's scenes, shots, characters and environments at once (characters merge by name)"""

    bl_idname = "aipipe.breakdown_apply"
    bl_label = "Apply breakdown"
    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context: Any) -> bool:
        return _poll_draft(cls, context, "draft")

    def execute(self, context: Any) -> set[str]:
        rt = runtime.get()
        draft = current_draft()
        assert draft is not None
        path, body = f"/api/breakdowns/{draft['id']}/apply", {"revision": draft["revision"]}

        def done(applied: dict[str, Any]) -> None:
            show_draft(applied)
            n = {key: len(value) for key, value in applied["result"].items()}
            rt.report(
                iface(
                    "Applied: {scenes} scenes, {shots} shots, {created} new and {merged} merged characters",
                    scenes=n["scenes"],
                    shots=n["shots"],
                    created=n["characters_created"],
                    merged=n["characters_merged"],
                )
            )

        rt.send("Applying the breakdown", "POST", path, body, done)
        return {"FINISHED"}


def fetch_new_shots(project_id: str, shot_ids: list[str]) -> Any:
    """Worker: the project (for its frame rate) and the applied shots as the server has them now."""
    rt = runtime.get()

    def work(_ctx: Any) -> dict[str, Any]:
        client = rt.require_client()
        project = client.get(f"/api/projects/{project_id}")
        return {"project": project, "shots": [client.get(f"/api/shots/{shot_id}") for shot_id in shot_ids]}

    return work


def build_strips(scene_name: str, data: dict[str, Any]) -> list[Any]:
    """Colour strips (the new shots have no media yet) after the edit's existing strips, one per shot,
    with the ids Build edit and Push edit read (main thread)."""
    from ..editorial import vse

    scene = vse.scene_named(scene_name)
    channel = getattr(getattr(scene, "aipipe_editorial", None), "picture_channel", DEFAULT_CHANNEL)
    existing = [compat.strip_range(s) for s in vse.picture_strips(scene)]
    if not existing:
        vse.set_scene_rate(scene, int(data["project"]["fps_num"]), int(data["project"]["fps_den"]))
    start = core.after_existing(existing, scene.frame_start)
    strips = compat.vse_strips(scene)
    made = []
    for slot in core.edit_slots(data["shots"], start):
        strip = vse.new_color_strip(strips, slot.code, channel, slot.start, slot.length)
        strip.color = vse.SLATE_COLOUR
        strip[vse.SHOT_ID] = slot.shot_id
        strip[vse.CODE] = slot.code
        strip[vse.VERSION_ID] = ""
        made.append(strip)
    if made:
        scene.frame_start = min(scene.frame_start, made[0].frame_final_start)
        scene.frame_end = compat.strip_range(made[-1])[1] - 1
    runtime.get().report(iface("Created the edit: {count} new shots in the VSE", count=len(made)))
    return made


class AIPIPE_OT_breakdown_create_edit(bpy.types.Operator):
    """Lay the applied breakdown's shots out in this scene's VSE, timed from their suggested durations"""

    bl_idname = "aipipe.breakdown_create_edit"
    bl_label = "Create edit"
    bl_options = {"REGISTER"}  # no UNDO: the change lands later and pushes its own step (undo.py)

    @classmethod
    def poll(cls, context: Any) -> bool:
        return _poll_draft(cls, context, "applied")

    def execute(self, context: Any) -> set[str]:
        draft = current_draft()
        assert draft is not None
        name = context.scene.name
        runtime.get().run(
            "Creating the edit",
            fetch_new_shots(str(draft["project_id"]), core.applied_shot_ids(draft)),
            lambda data: build_strips(name, data),
            undo=self.bl_label,
            long=True,
        )
        return {"FINISHED"}


CLASSES = (
    AIPIPE_OT_breakdown_analyse,
    AIPIPE_OT_breakdown_decide,
    AIPIPE_OT_breakdown_edit_item,
    AIPIPE_OT_breakdown_apply,
    AIPIPE_OT_breakdown_create_edit,
)


def register() -> None:
    register_classes(CLASSES)


def unregister() -> None:
    unregister_classes(CLASSES)
