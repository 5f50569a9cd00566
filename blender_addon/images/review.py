"""Review from Blender: a verdict (approve / reject / needs changes) and a note anchored to a frame, from
the VSE (the active strip's version at the current frame) or the Image Editor (the take shown); timeline
markers the editor made on strips sent as frame notes; Use as first frame; Redo from take."""

from __future__ import annotations

import json
from typing import Any

import bpy
from bpy.props import BoolProperty, EnumProperty, IntProperty, StringProperty

from .. import compat, runtime
from ..core.client import ApiError
from ..editorial import vse
from ..i18n import iface, tip
from ..registry import ensure_online, register_classes, unregister_classes
from . import core
from .props import state
from .takes import load_takes, shown_take, take_media_first

SENT = "aipipe_sent_markers"  # scene: JSON list of the marker keys already sent as notes
TARGETS = (
    (
        "AUTO",
        "Automatic",
        "The sequencer's active strip in the sequencer, the shown take in the Image Editor",
    ),
    ("VSE", "Active strip", "The version the sequencer's active strip shows"),
    ("IMAGE", "Shown take", "The take the Image Editor shows"),
)
VERDICT_ITEMS = (
    ("NONE", "Note only", "A note without a verdict"),
    ("approve", "Approve", "Approve the take"),
    ("needs_changes", "Needs changes", "Send the take back with a note"),
    ("reject", "Reject", "Reject the take"),
)


def strip_with_version(context: Any) -> Any:
    editor = context.scene.sequence_editor
    strip = getattr(editor, "active_strip", None) if editor else None
    return strip if strip is not None and strip.get(vse.VERSION_ID) else None


def media_frame(strip: Any, frame: int) -> int:
    """The strip's version frame shown at timeline `frame` (the movie's own numbering; a still counts from
    the strip's start), as the server's note markers count it."""
    return max(0, int(frame) - int(strip.frame_start))


def head_handle(strip: Any) -> int:
    """Head handle frames the strip's movie holds (as Build edit cut it; before, the strip's own head trim);
    a still holds none."""
    if strip.type != "MOVIE":
        return 0
    return int(strip.get(vse.MEDIA_HEAD, round(strip.frame_offset_start)))


def _kind(context: Any, kind: str) -> str:
    if kind != "AUTO":
        return kind
    area = getattr(context.area, "type", "")
    if area == "IMAGE_EDITOR" or (area != "SEQUENCE_EDITOR" and strip_with_version(context) is None):
        return "IMAGE"
    return "VSE"


def first_number(strip: Any) -> int | None:
    """The number the strip's version gives its media's first frame (`first_frame`, as Build edit, Update
    media, the takes and the farm put it in); None where it said none or the strip predates it."""
    value = strip.get(vse.MEDIA_FIRST)
    return int(value) if value is not None else None


def target_numbering(context: Any, kind: str) -> tuple[int, int | None]:
    """(head handle frames, first frame's number or None) of the take `target` reviews: the strip's; the
    take the Image Editor shows (a still: no handle) numbered by its version's `first_frame` where it says
    one. Its frames are numbered from the first frame's number, else from 1001 less the handle
    (`core.frame_number`), as the review room and the VSE do."""
    if _kind(context, kind) == "VSE":
        strip = strip_with_version(context)
        return (head_handle(strip), first_number(strip)) if strip is not None else (0, None)
    take = shown_take()
    return 0, take_media_first(take) if take is not None else None


def target(context: Any, kind: str) -> tuple[str, str, int | None]:
    """(version id, what it is called, frame) of what the artist reviews; ("", "", None) when nothing is.
    The frame is the media frame (0 = the take's first), as notes are stored."""
    kind = _kind(context, kind)
    if kind == "VSE":
        strip = strip_with_version(context)
        if strip is None:
            return "", "", None
        return str(strip[vse.VERSION_ID]), strip.name, media_frame(strip, context.scene.frame_current)
    take = shown_take()
    if take is None:
        return "", "", None
    return take.version_id, f"{state().shot_code} {take.label}", None


NO_TARGET = "Select a strip that shows a version, or show a take in the Image Editor"


def _target_poll(cls: type, context: Any, kind: str) -> bool:
    if not ensure_online(cls, context):
        return False
    if not target(context, kind)[0]:
        cls.poll_message_set(tip(NO_TARGET))
        return False
    return True


def reported_target(operator: Any, context: Any) -> tuple[str, str, int | None]:
    """`target` of the operator's `target` kind; when nothing is reviewed, the operator reports it as an
    error and the id is ""."""
    found = target(context, operator.target)
    if not found[0]:
        operator.report({"ERROR"}, tip(NO_TARGET))
    return found


def _after_review(version_id: str) -> None:
    """A verdict changes the take's label: reload the compared shot's list if it holds that take."""
    st = state()
    if any(t.version_id == version_id for t in st.takes):
        load_takes(st.shot_id, st.shot_code, keep=True)


class AIPIPE_OT_images_review(bpy.types.Operator):
    """Review a take: approve, reject or ask for changes, with a note at a frame"""

    bl_idname = "aipipe.images_review"
    bl_label = "Review take"
    bl_options = {"REGISTER"}

    target: EnumProperty(name="Take", items=TARGETS, default="AUTO")  # type: ignore[valid-type]
    verdict: EnumProperty(name="Verdict", items=VERDICT_ITEMS, default="NONE")  # type: ignore[valid-type]
    text: StringProperty(name="Note", description="What to change, as the artist should read it")  # type: ignore[valid-type]
    frame: IntProperty(  # type: ignore[valid-type]
        name="Frame",
        description="The shot's frame the note is about, numbered as the review room and the shot's timeline "
        "number it (the cut's first is 1001 unless the take says its own; -1: the current frame in the "
        "Sequencer, the whole take in the Image Editor)",
        default=-1,
        min=-1,
    )

    @classmethod
    def poll(cls, context: Any) -> bool:
        return _target_poll(cls, context, "AUTO")

    def invoke(self, context: Any, event: Any) -> set[str]:
        return context.window_manager.invoke_props_dialog(self)

    def draw(self, context: Any) -> None:
        version_id, name, frame = target(context, self.target)
        layout = self.layout
        layout.label(text=name or iface("Nothing to review"), icon="IMAGE_DATA", translate=False)
        layout.prop(self, "verdict", expand=True)
        layout.prop(self, "text")
        layout.prop(self, "frame")
        if self.frame < 0 and frame is not None:
            number = core.frame_number(frame, *target_numbering(context, self.target))
            layout.label(text=iface("Current frame: {frame}", frame=number), translate=False)
        elif version_id and frame is None:  # the Image Editor's take: the number a Frame starts from
            first = core.frame_number(0, *target_numbering(context, self.target))
            layout.label(text=iface("Take's first frame: {first}", first=first), translate=False)

    def execute(self, context: Any) -> set[str]:
        version_id, name, current = reported_target(self, context)
        if not version_id:
            return {"CANCELLED"}
        frame = current
        if self.frame >= 0:  # the shot's number; the note keeps the media frame (the markers read it so)
            numbering = target_numbering(context, self.target)
            try:
                frame = core.media_frame_of(self.frame, *numbering)
            except ValueError:
                first = core.frame_number(0, *numbering)
                self.report(
                    {"ERROR"},
                    iface(
                        "Frame {frame} is before the take's first frame, {first}",
                        frame=self.frame,
                        first=first,
                    ),
                )
                return {"CANCELLED"}
        try:
            body = core.review_body(None if self.verdict == "NONE" else self.verdict, self.text, frame)
        except ValueError as exc:
            self.report({"ERROR"}, iface(str(exc)))
            return {"CANCELLED"}
        rt = runtime.get()

        def done(result: dict[str, Any]) -> None:
            verdict = result.get("verdict") or "note"
            rt.report(
                iface(
                    "{take}: {verdict} sent (shot is {status})",
                    take=name,
                    verdict=verdict,
                    status=result.get("shot_status", ""),
                )
            )
            _after_review(version_id)

        rt.send("Sending review", "POST", f"/api/versions/{version_id}/reviews", body, done)
        return {"FINISHED"}


def strip_spans(scene: Any) -> list[core.StripSpan]:
    spans = []
    for strip in compat.vse_all_strips(scene):
        if not strip.get(vse.VERSION_ID) or strip.get(vse.AUDIO):
            continue
        start, end = compat.strip_range(strip)
        spans.append(
            core.StripSpan(
                str(strip[vse.VERSION_ID]),
                str(strip.get(vse.CODE, strip.name)),
                strip.channel,
                start,
                end,
                start - int(strip.frame_start),
            )
        )
    return spans


def pending_marker_notes(scene: Any) -> list[core.MarkerNote]:
    """The editor's own markers over strips that show versions, not sent yet."""
    return core.marker_notes(
        [(m.frame, m.name) for m in scene.timeline_markers],
        strip_spans(scene),
        core.load_list(scene.get(vse.MARKERS, "[]")),
        core.load_list(scene.get(SENT, "[]")),
    )


def apply_sent(scene_name: str, notes: list[core.MarkerNote], results: list[str], error: str = "") -> None:
    """Remember what was sent; each sent marker takes the name the server's note will have and joins the
    build's markers, so the next Build edit replaces it with the server's note rather than doubling it."""
    scene = vse.scene_named(scene_name)
    sent = core.load_list(scene.get(SENT, "[]"))
    from_server = core.load_list(scene.get(vse.MARKERS, "[]"))
    by_key = {n.key: n for n in notes}
    for key in results:
        note = by_key[key]
        sent.append(key)
        marker = next((m for m in scene.timeline_markers if core.marker_key(m.frame, m.name) == key), None)
        if marker is not None:
            marker.name = note.server_name
            from_server.append(marker.name)
            sent.append(core.marker_key(marker.frame, marker.name))
    scene[SENT] = json.dumps(core.unique(sent))
    scene[vse.MARKERS] = json.dumps(from_server)
    if error:
        runtime.get().report(
            iface("{count} marker notes sent; stopped at {error}", count=len(results), error=error), "ERROR"
        )
    else:
        runtime.get().report(iface("{count} marker notes sent", count=len(results)))


class AIPIPE_OT_images_send_markers(bpy.types.Operator):
    """Send your timeline markers over strips as frame notes of the versions they show"""

    bl_idname = "aipipe.images_send_markers"
    bl_label = "Send marker notes"
    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context: Any) -> bool:
        if not ensure_online(cls, context):
            return False
        if not pending_marker_notes(context.scene):
            cls.poll_message_set(tip("No new markers over strips that show a version"))
            return False
        return True

    def execute(self, context: Any) -> set[str]:
        notes = pending_marker_notes(context.scene)
        scene_name = context.scene.name
        rt = runtime.get()

        def work(ctx: Any) -> tuple[list[str], str]:
            client = rt.require_client()
            sent: list[str] = []
            for index, note in enumerate(notes):
                ctx.progress(index / max(1, len(notes)), note.text)
                body = core.review_body(None, note.text, note.frame)
                try:
                    client.request("POST", f"/api/versions/{note.version_id}/reviews", body)
                except ApiError as exc:  # those sent so far are remembered, so a retry does not repeat them
                    return sent, f"{note.marker_name}: {exc}"
                sent.append(note.key)
            return sent, ""

        rt.run("Sending marker notes", work, lambda r: apply_sent(scene_name, notes, *r))
        return {"FINISHED"}


class AIPIPE_OT_images_use_first_frame(bpy.types.Operator):
    """Use this take as the shot's first frame (the i2v input); the approval is recorded as a review"""

    bl_idname = "aipipe.images_use_first_frame"
    bl_label = "Use as first frame"
    bl_options = {"REGISTER"}

    target: EnumProperty(name="Take", items=TARGETS, default="AUTO")  # type: ignore[valid-type]
    note: StringProperty(name="Note", description="Why this take (kept with the approval)")  # type: ignore[valid-type]

    @classmethod
    def poll(cls, context: Any) -> bool:
        return _target_poll(cls, context, "AUTO")

    def execute(self, context: Any) -> set[str]:
        version_id, name, _frame = reported_target(self, context)
        if not version_id:
            return {"CANCELLED"}
        rt = runtime.get()

        def done(_result: Any) -> None:
            rt.report(iface("{take} is the shot's first frame", take=name))
            _after_review(version_id)

        body = {"note": " ".join(self.note.split()) or None}
        rt.send(
            "Setting the first frame", "POST", f"/api/versions/{version_id}/use-as-first-frame", body, done
        )
        return {"FINISHED"}


class AIPIPE_OT_images_redo(bpy.types.Operator):
    """Make new takes from this one: the same workflow and parameters with a new seed, or with your edits"""

    bl_idname = "aipipe.images_redo"
    bl_label = "Redo from take"
    bl_options = {"REGISTER"}

    target: EnumProperty(name="Take", items=TARGETS, default="AUTO")  # type: ignore[valid-type]
    new_seed: BoolProperty(name="New seed", default=True)  # type: ignore[valid-type]
    prompt: StringProperty(name="Prompt", description="Blank: the take's own prompt")  # type: ignore[valid-type]
    negative: StringProperty(name="Negative prompt", description="Blank: the take's own")  # type: ignore[valid-type]

    @classmethod
    def poll(cls, context: Any) -> bool:
        return _target_poll(cls, context, "AUTO")

    def invoke(self, context: Any, event: Any) -> set[str]:
        return context.window_manager.invoke_props_dialog(self)

    def execute(self, context: Any) -> set[str]:
        version_id, name, _frame = reported_target(self, context)
        if not version_id:
            return {"CANCELLED"}
        rt = runtime.get()

        def done(result: Any) -> None:
            jobs = result.get("jobs", []) if isinstance(result, dict) else result
            rt.report(iface("{count} takes queued from {take}", count=len(jobs or []), take=name))

        body = core.redo_body(self.new_seed, self.prompt, self.negative)
        rt.send("Queueing takes", "POST", f"/api/versions/{version_id}/redo", body, done)
        return {"FINISHED"}


CLASSES = (
    AIPIPE_OT_images_review,
    AIPIPE_OT_images_send_markers,
    AIPIPE_OT_images_use_first_frame,
    AIPIPE_OT_images_redo,
)


def register() -> None:
    register_classes(CLASSES)


def unregister() -> None:
    unregister_classes(CLASSES)
