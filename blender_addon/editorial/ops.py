"""Editorial operators (VSE sidebar tab "AIPipeline"): build, update media, step versions, push the edit,
takes review and approval, proxy movie, export, render what the VSE shows.

Network work runs on the add-on's worker (`runtime.run`); results are applied to the scene on the main
thread. Scenes are looked up again by name when a result arrives (the artist may have switched).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import Any

import bpy
from bpy.props import BoolProperty, IntProperty

from .. import compat, runtime
from ..connect import props as connect_props
from ..core import pathmap
from ..core.client import ApiError
from ..registry import ensure_online, ensure_project, register_classes, unregister_classes
from . import core, vse

PROXY_POLL_S = 0.5
SHOT_PAGE = 1000
PROXY_WAIT_S = 3600.0


# -- shared helpers ---------------------------------------------------------------------------------------


def _mappings(rt: Any) -> list[dict[str, str]]:
    storage = rt.extras.get("storage") or {}
    return connect_props.mappings() + list(storage.get("mappings") or [])


def local_media(rt: Any, file: dict[str, Any], ctx: Any | None = None) -> str | None:
    """The file on this workstation: through a path mapping when the storage is mounted, else downloaded
    once into the add-on's cache (named by checksum, so a new version is a new file)."""
    relative = file.get("path")
    if relative:
        local = pathmap.to_local(relative, _mappings(rt), exists=os.path.isdir)
        if local and os.path.isfile(local):
            return local
    if not file.get("url"):
        return None
    target = os.path.join(rt.cache_dir, "editorial", f"{str(file['sha256'])[:16]}_{file['name']}")
    if not os.path.isfile(target):
        rt.require_client().download(file["url"], target)
    return target


def _active_strip(context: Any) -> Any:
    editor = context.scene.sequence_editor
    strip = getattr(editor, "active_strip", None) if editor else None
    return strip if strip is not None and strip.get(vse.SHOT_ID) else None


# -- build and media --------------------------------------------------------------------------------------


def fetch_edit(project_id: str) -> Callable[[Any], dict[str, Any]]:
    """Worker: the server's edit and a local file for each shot's media."""
    rt = runtime.get()

    def work(ctx: Any) -> dict[str, Any]:
        client = rt.require_client()
        if "storage" not in rt.extras:
            rt.extras["storage"] = client.get("/api/storage")
        edit = client.get(f"/api/projects/{project_id}/editorial/edit")
        paths: dict[str, str | None] = {}
        sounds: dict[str, str | None] = {}
        shots = edit["shots"]
        for index, shot in enumerate(shots):
            ctx.progress(index / max(1, len(shots)), shot["code"])
            paths[str(shot["shot_id"])] = local_media(rt, shot["media"]) if shot.get("media") else None
            if shot.get("audio"):
                sounds[str(shot["shot_id"])] = local_media(rt, shot["audio"])
        return {"edit": edit, "paths": paths, "sounds": sounds}

    return work


def apply_build(scene_name: str, data: dict[str, Any]) -> list[Any]:
    scene = vse.scene_named(scene_name)
    settings = scene.aipipe_editorial
    edit = data["edit"]
    plans = core.plan_from_edit(edit, settings.start_frame)
    made = vse.build_edit(
        scene, plans, data["paths"], (edit["fps_num"], edit["fps_den"]), settings.picture_channel
    )
    left_out = ""
    try:
        vse.add_reference_audio(scene, plans, data.get("sounds") or {}, settings.audio_channel)
    except vse.NoSoundSupport as exc:
        left_out = f"; reference sound left out: {exc}"
    vse.set_note_markers(scene, core.plan_markers(edit, plans))
    vse.remember_revisions(scene, {str(s["shot_id"]): int(s["revision"]) for s in edit["shots"]})
    handles = {str(s["shot_id"]): int(s["handle_in"]) for s in edit["shots"]}
    for strip in made:
        strip[vse.HANDLE_IN] = handles[str(strip[vse.SHOT_ID])]  # where a movie take of the shot starts
    settings.record_start = edit.get("record_start") or settings.record_start
    runtime.get().report(
        f"Built the edit: {len(made)} shots, {edit['frames']} frames{left_out}",
        "WARNING" if left_out else "INFO",
    )
    return made


def apply_media_update(scene_name: str, data: dict[str, Any], swap: bool) -> int:
    """Flag strips whose shot now shows another version; with `swap`, put the newer media in."""
    scene = vse.scene_named(scene_name)
    by_shot = {str(s["shot_id"]): s for s in data["edit"]["shots"]}
    changed = 0
    for strip in vse.picture_strips(scene):
        shot = by_shot.get(str(strip[vse.SHOT_ID]))
        media = shot.get("media") if shot else None
        if media is None or str(media["version_id"]) == str(strip.get(vse.VERSION_ID, "")):
            vse.flag_outdated(strip, False)
            continue
        changed += 1
        if swap:
            path = data["paths"].get(str(shot["shot_id"]))
            vse.replace_media(scene, strip, path, media["still"], shot["source_in"], str(media["version_id"]))
        else:
            vse.flag_outdated(strip, True)
    verb = "updated" if swap else "outdated"
    runtime.get().report(f"{changed} strips {verb}")
    return changed


class AIPIPE_OT_editorial_build(bpy.types.Operator):
    """Lay out the project's shots on the picture channel: each shot's best media, shot list lengths"""

    bl_idname = "aipipe.editorial_build"
    bl_label = "Build edit"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context: Any) -> bool:
        return ensure_project(cls, context)

    def execute(self, context: Any) -> set[str]:
        name = context.scene.name
        runtime.get().run(
            "Building the edit", fetch_edit(runtime.current_project_id()), lambda d: apply_build(name, d)
        )
        return {"FINISHED"}


class AIPIPE_OT_editorial_update_media(bpy.types.Operator):
    """Check every strip against the newest media of its shot; outdated strips turn red, or are swapped"""

    bl_idname = "aipipe.editorial_update_media"
    bl_label = "Update media"
    bl_options = {"REGISTER", "UNDO"}

    swap: BoolProperty(name="Swap to the newest", default=True)  # type: ignore[valid-type]

    @classmethod
    def poll(cls, context: Any) -> bool:
        return ensure_project(cls, context)

    def execute(self, context: Any) -> set[str]:
        name, swap = context.scene.name, self.swap
        runtime.get().run(
            "Checking media",
            fetch_edit(runtime.current_project_id()),
            lambda d: apply_media_update(name, d, swap),
        )
        return {"FINISHED"}


def fetch_takes(shot_id: str) -> Callable[[Any], list[dict[str, Any]]]:
    """Worker: every take of a shot (newest first by stage) with a local file for each."""
    rt = runtime.get()

    def work(ctx: Any) -> list[dict[str, Any]]:
        client = rt.require_client()
        versions = client.get(f"/api/shots/{shot_id}/versions", {"limit": 500})["items"]
        takes = []
        for index, version in enumerate(core.takes_of(versions)):
            ctx.progress(index / max(1, len(versions)))
            file = next(f for f in version["files"] if str(f["mime"]).startswith(("video/", "image/")))
            takes.append(
                {
                    "version": version,
                    "path": local_media(rt, file),
                    "still": file["mime"].startswith("image/"),
                }
            )
        return takes

    return work


class AIPIPE_OT_editorial_step_version(bpy.types.Operator):
    """Show the next (or previous) take of the active strip's shot in its place"""

    bl_idname = "aipipe.editorial_step_version"
    bl_label = "Step version"
    bl_options = {"REGISTER", "UNDO"}

    step: IntProperty(default=1)  # type: ignore[valid-type]

    @classmethod
    def poll(cls, context: Any) -> bool:
        if not ensure_project(cls, context):
            return False
        if _active_strip(context) is None:
            cls.poll_message_set("Select a strip of the edit first")
            return False
        return True

    def execute(self, context: Any) -> set[str]:
        strip = _active_strip(context)
        scene_name, strip_name, step = context.scene.name, strip.name, self.step
        current = str(strip.get(vse.VERSION_ID, ""))

        def apply(takes: list[dict[str, Any]]) -> None:
            chosen = core.step_version(current, [t["version"] for t in takes], step)
            if chosen is None:
                runtime.get().report("This shot has no takes yet", "WARNING")
                return
            take = next(t for t in takes if t["version"]["id"] == chosen["id"])
            scene = vse.scene_named(scene_name)
            target = compat.vse_strips(scene).get(strip_name)
            handle = 0 if take["still"] else int(target.get(vse.HANDLE_IN, 0))
            vse.replace_media(scene, target, take["path"], take["still"], handle, str(chosen["id"]))
            runtime.get().report(f"{strip_name}: {chosen['stage']} v{int(chosen['number']):03d}")

        runtime.get().run("Loading takes", fetch_takes(str(strip[vse.SHOT_ID])), apply)
        return {"FINISHED"}


# -- takes review -----------------------------------------------------------------------------------------


def apply_takes(scene_name: str, strip_name: str, takes: list[dict[str, Any]]) -> list[Any]:
    """Each take on its own channel above the strip, same start and length, to play against each other."""
    scene = vse.scene_named(scene_name)
    strips = compat.vse_strips(scene)
    for old in [s for s in compat.vse_all_strips(scene) if s.get(vse.TAKE)]:
        strips.remove(old)
    base = strips.get(strip_name)
    start, end = compat.strip_range(base)
    made = []
    for index, take in enumerate(takes):
        version = take["version"]
        name = f"{base[vse.CODE]} {version['stage']} v{int(version['number']):03d}"
        handle = 0 if take["still"] else int(base.get(vse.HANDLE_IN, 0))
        strip = vse.place_strip(
            strips, name, base.channel + 1 + index, start, end - start, take["path"], take["still"], handle
        )
        strip[vse.TAKE] = True
        strip[vse.SHOT_ID] = base[vse.SHOT_ID]
        strip[vse.CODE] = base[vse.CODE]
        strip[vse.VERSION_ID] = str(version["id"])
        made.append(strip)
    runtime.get().report(f"{len(made)} takes of {base[vse.CODE]} stacked above it")
    return made


class AIPIPE_OT_editorial_takes(bpy.types.Operator):
    """Load every take of the active strip's shot on stacked channels above it"""

    bl_idname = "aipipe.editorial_takes"
    bl_label = "Review takes"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context: Any) -> bool:
        return AIPIPE_OT_editorial_step_version.poll(context)

    def execute(self, context: Any) -> set[str]:
        strip = _active_strip(context)
        scene_name, strip_name = context.scene.name, strip.name
        runtime.get().run(
            "Loading takes",
            fetch_takes(str(strip[vse.SHOT_ID])),
            lambda takes: apply_takes(scene_name, strip_name, takes),
        )
        return {"FINISHED"}


class AIPIPE_OT_editorial_approve_take(bpy.types.Operator):
    """Approve the take in the active strip; the approval is recorded on the server"""

    bl_idname = "aipipe.editorial_approve_take"
    bl_label = "Approve take"

    @classmethod
    def poll(cls, context: Any) -> bool:
        if not ensure_online(cls, context):
            return False
        strip = _active_strip(context)
        if strip is None or not strip.get(vse.VERSION_ID):
            cls.poll_message_set("Select a take (a strip that shows a version)")
            return False
        return True

    def execute(self, context: Any) -> set[str]:
        version_id, name = str(_active_strip(context)[vse.VERSION_ID]), _active_strip(context).name
        rt = runtime.get()
        body = {"verdict": "approve", "text": "Approved in the edit"}
        rt.send(
            "Approving",
            "POST",
            f"/api/versions/{version_id}/reviews",
            body,
            lambda result: rt.report(f"{name} approved (shot is {result['shot_status']})"),
        )
        return {"FINISHED"}


# -- push -------------------------------------------------------------------------------------------------


def all_shots(client: Any, project_id: str) -> list[dict[str, Any]]:
    """Every shot of the project in order (omitted ones too), page by page."""
    shots: list[dict[str, Any]] = []
    while True:
        page = client.get(
            f"/api/projects/{project_id}/shots", {"limit": SHOT_PAGE, "offset": len(shots), "sort": "order"}
        )
        shots += page["items"]
        if not page["items"] or len(shots) >= page["total"]:
            return shots


def _session() -> Any:
    return bpy.context.window_manager.aipipe_editorial


def _show(lines: list[str]) -> None:
    session = _session()
    session.change_lines.clear()
    for line in lines:
        session.change_lines.add().text = line


def start_push_preview(scene_name: str, project_id: str) -> None:
    """Read the VSE, compute the change set against the server's shots, and have the server check it."""
    rt = runtime.get()
    states = vse.strip_states(vse.scene_named(scene_name))
    seen = vse.remembered_revisions(vse.scene_named(scene_name))

    def work(_ctx: Any) -> dict[str, Any]:
        client = rt.require_client()
        shots = all_shots(client, project_id)
        changes = core.change_set(shots, states, seen)
        if changes.empty:
            return {"changes": changes, "shots": shots, "preview": None}
        preview = client.request(
            "POST", f"/api/projects/{project_id}/editorial/changes", {**changes.request, "apply": False}
        ).data
        return {"changes": changes, "shots": shots, "preview": preview}

    def done(result: dict[str, Any]) -> None:
        changes: core.ChangeSet = result["changes"]
        codes = {str(s["id"]): s["code"] for s in result["shots"]}
        lines = changes.lines(codes)
        preview = result["preview"]
        if preview:
            lines += [f"New shot {s['code']} ({s['duration_frames']} frames)" for s in preview["created"]]
        _show(lines)
        rt.extras["editorial_push"] = {"project_id": project_id, "scene": scene_name, "changes": changes}
        rt.report("Push edit: check the changes, then apply" if not changes.empty else "Nothing to push")

    rt.run("Checking the edit", work, done, _push_failed)


def _push_failed(exc: BaseException) -> None:
    lines = [f"Refused: {exc}"]
    if isinstance(exc, ApiError) and exc.current:
        current = exc.current
        lines.append(
            f"{current.get('code')} changed on the server: now {current.get('duration_frames')} frames, "
            f"revision {current.get('revision')}. Rebuild the edit or update it, then push again."
        )
    _show(lines)
    runtime.get().extras.pop("editorial_push", None)


def start_push_apply() -> None:
    rt = runtime.get()
    pending = rt.extras.get("editorial_push")
    if not pending:
        rt.report("Check the edit first (Push edit)", "WARNING")
        return
    changes: core.ChangeSet = pending["changes"]
    path = f"/api/projects/{pending['project_id']}/editorial/changes"

    def done(result: dict[str, Any]) -> None:
        scene = vse.scene_named(pending["scene"])
        strips = compat.vse_strips(scene)
        for name, shot in zip(changes.strips, result["shots"], strict=True):
            strip = strips.get(name)
            if strip is not None:  # a split strip now belongs to its new shot
                strip[vse.SHOT_ID], strip[vse.CODE] = str(shot["id"]), shot["code"]
        vse.remember_revisions(scene, {str(s["id"]): int(s["revision"]) for s in result["shots"]})
        rt.extras.pop("editorial_push", None)
        made, omitted = len(result["created"]), len(result["omitted"])
        _show([f"Applied: {len(result['shots'])} shots, {made} new, {omitted} omitted"])
        rt.report("Edit pushed")

    rt.send("Pushing the edit", "POST", path, {**changes.request, "apply": True}, done, _push_failed)


class AIPIPE_OT_editorial_push(bpy.types.Operator):
    """Read order, trims, deletions and splits from the VSE and show what they change on the server"""

    bl_idname = "aipipe.editorial_push"
    bl_label = "Push edit"

    @classmethod
    def poll(cls, context: Any) -> bool:
        return ensure_project(cls, context)

    def execute(self, context: Any) -> set[str]:
        try:
            start_push_preview(context.scene.name, runtime.current_project_id())
        except core.ChangeSetError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        return {"FINISHED"}


class AIPIPE_OT_editorial_push_apply(bpy.types.Operator):
    """Apply the checked change set; a conflict (stale revision) is refused, never overwritten"""

    bl_idname = "aipipe.editorial_push_apply"
    bl_label = "Apply changes"

    @classmethod
    def poll(cls, context: Any) -> bool:
        if not ensure_online(cls, context):
            return False
        if not runtime.get().extras.get("editorial_push"):
            cls.poll_message_set("Push edit first to see the changes")
            return False
        return True

    def execute(self, context: Any) -> set[str]:
        start_push_apply()
        return {"FINISHED"}


# -- exchange and movies ----------------------------------------------------------------------------------


def cut_of(scene: Any) -> list[dict[str, Any]]:
    """The VSE's picture strips as a cut for the server: shot, length, first media frame, version."""
    out = []
    for strip in vse.picture_strips(scene):
        start, end = compat.strip_range(strip)
        entry: dict[str, Any] = {"shot_id": str(strip[vse.SHOT_ID]), "frames": end - start}
        if strip.type == "MOVIE":
            entry["source_in"] = int(strip.frame_offset_start)
        elif strip.type == "IMAGE":
            entry["source_in"] = 0
        if strip.get(vse.VERSION_ID):
            entry["version_id"] = str(strip[vse.VERSION_ID])
        out.append(entry)
    return out


class AIPIPE_OT_editorial_export(bpy.types.Operator):
    """Write what the VSE shows as an EDL, FCP 7 XML or OTIO file (made by the server's OpenTimelineIO)"""

    bl_idname = "aipipe.editorial_export"
    bl_label = "Export edit"

    @classmethod
    def poll(cls, context: Any) -> bool:
        if not ensure_project(cls, context):
            return False
        if not vse.picture_strips(context.scene):
            cls.poll_message_set("Build the edit first")
            return False
        return True

    def execute(self, context: Any) -> set[str]:
        settings = context.scene.aipipe_editorial
        target = bpy.path.abspath(settings.export_path)
        body = {
            "format": settings.export_format,
            "record_start": settings.record_start,
            "cut": cut_of(context.scene),
        }
        project_id = runtime.current_project_id()
        rt = runtime.get()

        def work(_ctx: Any) -> str:
            data = rt.require_client().request("POST", f"/api/projects/{project_id}/editorial/cut", body).data
            raw = json.dumps(data, ensure_ascii=False, indent=2).encode() if isinstance(data, dict) else data
            os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
            partial = f"{target}.part"
            with open(partial, "wb") as out:
                out.write(raw)
            os.replace(partial, target)
            return target

        rt.run("Exporting the edit", work, lambda path: rt.report(f"Wrote {path}"))
        return {"FINISHED"}


def proxy_job(project_id: str) -> Callable[[Any], dict[str, Any]]:
    """Worker: start the server's proxy render and wait for it, reporting its progress."""
    rt = runtime.get()

    def work(ctx: Any) -> dict[str, Any]:
        client = rt.require_client()
        render = client.request("POST", f"/api/projects/{project_id}/editorial/proxies").data
        deadline = time.monotonic() + PROXY_WAIT_S
        while render["status"] in ("queued", "running") and time.monotonic() < deadline:
            ctx.progress(float(render["progress"]), f"proxy v{int(render['number']):03d}")
            if ctx.cancelled:
                break
            time.sleep(PROXY_POLL_S)
            render = client.get(f"/api/editorial/proxies/{render['id']}")
        return render

    return work


class AIPIPE_OT_editorial_proxy(bpy.types.Operator):
    """Have the server render the proxy movie of the edit (only changed shots are encoded again)"""

    bl_idname = "aipipe.editorial_proxy"
    bl_label = "Proxy movie"

    @classmethod
    def poll(cls, context: Any) -> bool:
        return ensure_project(cls, context)

    def execute(self, context: Any) -> set[str]:
        rt = runtime.get()

        def done(render: dict[str, Any]) -> None:
            text = (
                f"Proxy v{int(render['number']):03d}: {render['status']}, {render['encoded']} shots encoded, "
                f"{render['reused']} reused"
                if render["status"] == "succeeded"
                else f"Proxy v{int(render['number']):03d}: {render['status']} {render.get('error', '')}"
            )
            _session().proxy_status = text
            rt.report(text, "INFO" if render["status"] == "succeeded" else "ERROR")

        rt.run("Proxy movie", proxy_job(runtime.current_project_id()), done)
        return {"FINISHED"}


def render_vse(scene: Any, target: str) -> str:
    """Render what the VSE shows (all channels, the scene's range) to an H.264 movie; settings restored."""
    saved = compat.snapshot_render_settings(scene)
    use_sequencer = scene.render.use_sequencer
    try:
        compat.set_ffmpeg_h264(scene.render)
        scene.render.use_sequencer = True
        scene.render.filepath = target
        scene.render.use_file_extension = False
        compat.ensure_sequencer_context(scene)
        bpy.ops.render.render(animation=True, scene=scene.name)
    finally:
        scene.render.use_sequencer = use_sequencer
        compat.restore_render_settings(scene, saved)
    return target


class AIPIPE_OT_editorial_render_vse(bpy.types.Operator):
    """Render what the VSE shows to a movie file"""

    bl_idname = "aipipe.editorial_render_vse"
    bl_label = "Render the edit"

    @classmethod
    def poll(cls, context: Any) -> bool:
        if context.scene.sequence_editor is None or not list(compat.vse_all_strips(context.scene)):
            cls.poll_message_set("The sequencer is empty")
            return False
        return True

    def execute(self, context: Any) -> set[str]:
        target = bpy.path.abspath(context.scene.aipipe_editorial.render_path)
        os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
        render_vse(context.scene, target)
        self.report({"INFO"}, f"Rendered {target}")
        return {"FINISHED"}


CLASSES = (
    AIPIPE_OT_editorial_build,
    AIPIPE_OT_editorial_update_media,
    AIPIPE_OT_editorial_step_version,
    AIPIPE_OT_editorial_takes,
    AIPIPE_OT_editorial_approve_take,
    AIPIPE_OT_editorial_push,
    AIPIPE_OT_editorial_push_apply,
    AIPIPE_OT_editorial_export,
    AIPIPE_OT_editorial_proxy,
    AIPIPE_OT_editorial_render_vse,
)


def register() -> None:
    register_classes(CLASSES)


def unregister() -> None:
    unregister_classes(CLASSES)
