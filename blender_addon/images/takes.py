"""A shot's takes in Blender: loaded from the server (with their provenance), shown in the Image Editor as
A, B, side by side or as a wipe, stepped through with the keyboard, refreshed as new takes arrive."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import bpy
from bpy.props import IntProperty, StringProperty

from .. import runtime
from ..editorial import vse
from ..editorial.fetch import local_media
from ..i18n import iface, tip
from ..registry import ensure_online, register_classes, unregister_classes
from . import core
from .props import state

TAKES_PAGE = 200
COMPARE_IMAGE = "AIPipe A|B"
IMAGE_PREFIX = "AIPipe take "


# -- worker side -------------------------------------------------------------------------------------------


def fetch_takes(shot_id: str) -> Callable[[Any], list[dict[str, Any]]]:
    """Worker: every take of the shot, page by page (`GET /api/shots/{id}/takes`); no files yet."""
    rt = runtime.get()

    def work(_ctx: Any) -> list[dict[str, Any]]:
        client = rt.require_client()
        items: list[dict[str, Any]] = []
        while True:
            page = client.get(f"/api/shots/{shot_id}/takes", {"limit": TAKES_PAGE, "offset": len(items)})
            items += page["items"]
            if not page["items"] or len(items) >= int(page.get("total", len(items))):
                return items

    return work


def fetch_rows(shot_id: str) -> Callable[[Any], list[core.TakeRow]]:
    """Worker: the shot's takes as list rows (labels and provenance made here, off the main thread)."""
    listing = fetch_takes(shot_id)
    return lambda ctx: core.take_rows(listing(ctx))


def fetch_files(files: list[dict[str, str]]) -> Callable[[Any], list[str | None]]:
    """Worker: a local path for each take file (path mapping, else downloaded once into the cache)."""
    rt = runtime.get()

    def work(ctx: Any) -> list[str | None]:
        paths = []
        for index, file in enumerate(files):
            ctx.progress(index / max(1, len(files)), file.get("name", ""))
            paths.append(local_media(rt, file) if file.get("url") or file.get("path") else None)
        return paths

    return work


def take_file(take: Any) -> dict[str, str]:
    return {"url": take.file_url, "name": take.file_name, "sha256": take.file_sha256}


def take_media_first(take: Any) -> int | None:
    """The listed take's version `first_frame` (its frames are numbered from it); None: it said none."""
    return int(take.media_first) if take.has_media_first else None


# -- main thread: the take list --------------------------------------------------------------------------


def _fill(item: Any, row: core.TakeRow) -> None:
    item.version_id, item.label, item.verdict, item.first_frame = (
        row.version_id,
        row.label,
        row.verdict,
        row.first_frame,
    )
    item.provenance, item.file_url, item.file_name, item.file_sha256 = (
        row.provenance,
        row.file_url,
        row.file_name,
        row.file_sha256,
    )
    item.media_first, item.has_media_first = row.media_first or 0, row.media_first is not None


def apply_takes(shot_id: str, code: str, rows: list[core.TakeRow], keep: bool = False) -> None:
    """Fill the panel's take list with the shot's takes; A is the first frame (else the first take), B the
    next one. With `keep`, A and B stay on the takes they were, and a list that only grew keeps its rows
    (only changed rows are written and new ones added: takes arriving during a batch cost little)."""
    st = state()
    before = (
        st.takes[st.take_index].version_id if keep and 0 <= st.take_index < len(st.takes) else "",
        st.takes[st.other_index].version_id if keep and 0 <= st.other_index < len(st.takes) else "",
    )
    ids = [r.version_id for r in rows]
    held = [t.version_id for t in st.takes] if keep and st.shot_id == shot_id else []
    if not held or held != ids[: len(held)]:
        st.takes.clear()
        held = []
    st.shot_id, st.shot_code = shot_id, code
    for item, row in zip(st.takes, rows, strict=False):
        if (item.label, item.verdict, item.first_frame, take_media_first(item)) != (
            row.label,
            row.verdict,
            row.first_frame,
            row.media_first,
        ):
            _fill(item, row)
    for row in rows[len(held) :]:
        _fill(st.takes.add(), row)
    first = next((i for i, r in enumerate(rows) if r.first_frame), 0 if rows else -1)
    st.take_index = ids.index(before[0]) if before[0] in ids else first
    st.other_index = ids.index(before[1]) if before[1] in ids else core.step(st.take_index, len(rows), 1)


def load_takes(shot_id: str, code: str, then: Callable[[], None] | None = None, keep: bool = False) -> None:
    """Fetch the shot's takes on the worker and list them (then `then()` on the main thread)."""
    rt = runtime.get()

    def done(rows: list[core.TakeRow]) -> None:
        apply_takes(shot_id, code, rows, keep)
        if then is not None:
            then()

    rt.run("Loading takes", fetch_rows(shot_id), done)


def refresh_after_arrivals(shot_id: str) -> None:
    """Reload the compared shot's takes after new ones arrived; once more if others came meanwhile."""
    rt = runtime.get()
    arrivals: core.Arrivals = rt.extras.setdefault("images_arrivals", core.Arrivals())

    def done(rows: list[core.TakeRow]) -> None:
        if state().shot_id == shot_id:
            apply_takes(shot_id, state().shot_code, rows, keep=True)
        if arrivals.refreshed():
            refresh_after_arrivals(shot_id)

    def failed(_exc: BaseException) -> None:
        arrivals.refreshed()

    rt.run("Loading takes", fetch_rows(shot_id), done, failed)


def on_version(event: dict[str, Any]) -> None:
    """A `version.created` event: count a new take and refresh the compared shot's list (off the main
    thread, at most one refresh running). Cheap: this runs once per arriving take."""
    rt = runtime.get()
    arrivals: core.Arrivals = rt.extras.setdefault("images_arrivals", core.Arrivals())
    st = state()
    if arrivals.add(event.get("data") or {}, st.shot_id):
        refresh_after_arrivals(st.shot_id)
    if st.arrived != arrivals.total:
        st.arrived = arrivals.total


# -- main thread: showing takes in the Image Editor -------------------------------------------------------


def _image(path: str, name: str) -> Any:
    image = bpy.data.images.get(name)
    if image is not None and bpy.path.abspath(image.filepath) == path:
        return image
    if image is not None:
        bpy.data.images.remove(image)
    image = bpy.data.images.load(path, check_existing=False)
    image.name = name
    return image


def _pixels(image: Any) -> Any:
    import numpy as np

    width, height = image.size[:]
    flat = np.empty(width * height * 4, dtype=np.float32)
    image.pixels.foreach_get(flat)
    return flat.reshape(height, width, 4)


def _composite(array: Any) -> Any:
    height, width = array.shape[:2]
    image = bpy.data.images.get(COMPARE_IMAGE)
    if image is not None and tuple(image.size[:]) != (width, height):
        bpy.data.images.remove(image)
        image = None
    if image is None:
        image = bpy.data.images.new(COMPARE_IMAGE, width, height, alpha=True)
    image.pixels.foreach_set(array.ravel())
    image.update()
    return image


def ours(image: Any) -> bool:
    """An image this feature made (a take, or the A|B picture)."""
    return image is not None and (image.name.startswith(IMAGE_PREFIX) or image.name == COMPARE_IMAGE)


def show_in_image_editors(image: Any) -> int:
    """Show `image` in the Image Editors that show nothing or a take (an editor showing the artist's own
    image, a mask being painted, is left alone), else in the first one; how many (none in background)."""
    wm = bpy.context.window_manager
    editors = [
        area.spaces.active
        for window in getattr(wm, "windows", [])
        for area in window.screen.areas
        if area.type == "IMAGE_EDITOR"
    ]
    chosen = [space for space in editors if space.image is None or ours(space.image)] or editors[:1]
    for space in chosen:
        space.image = image
    return len(chosen)


def forget_images(keep: set[str]) -> None:
    """Drop the take images not in `keep` (stepping through 800 takes must not hold 800 images)."""
    for image in [i for i in bpy.data.images if i.name.startswith(IMAGE_PREFIX) and i.name not in keep]:
        bpy.data.images.remove(image)


def _label(take: Any) -> str:
    return f"{state().shot_code} {take.label}"


def apply_show(paths: list[str | None], indexes: list[int]) -> None:
    """Load the takes' files as images and show A, B, both side by side or the wipe (main thread)."""
    st = state()
    takes = [st.takes[i] for i in indexes]
    images = []
    for take, path in zip(takes, paths, strict=True):
        if path is None:
            raise ValueError(iface("Take {take} has no image file", take=_label(take)))
        images.append(_image(path, IMAGE_PREFIX + take.version_id))
    if st.mode == "SINGLE" or len(images) == 1:
        image = images[0]
        st.shown_version = takes[0].version_id
        text = iface("Showing {take}", take=_label(takes[0]))
    else:
        a, b = (_pixels(i) for i in images)
        array = core.side_by_side(a, b) if st.mode == "SIDE" else core.wipe(a, b, st.wipe)
        image = _composite(array)
        st.shown_version = takes[0].version_id if st.show == "A" else takes[1].version_id
        text = iface("Comparing {a} with {b}", a=_label(takes[0]), b=_label(takes[1]))
    st.shown_image = image.name
    forget_images({i.name for i in images})
    show_in_image_editors(image)
    runtime.get().report(text)


def show() -> None:
    """Fetch what the Image Editor should show now (by mode and A/B) and show it."""
    st = state()
    if not 0 <= st.take_index < len(st.takes):
        runtime.get().report("This shot has no takes yet", "WARNING")
        return
    a, b = st.take_index, st.other_index
    if st.mode == "SINGLE" or not 0 <= b < len(st.takes):
        indexes = [a if st.show == "A" or not 0 <= b < len(st.takes) else b]
    else:
        indexes = [a, b]
    files = [take_file(st.takes[i]) for i in indexes]
    runtime.get().run(
        "Loading takes", fetch_files(files), lambda paths: apply_show(paths, indexes), long=True
    )


def context_shot(context: Any) -> tuple[str, str]:
    """The shot to compare: the active VSE strip's, else the scene's, else the one picked in the list."""
    strip = vse.active_strip(context) if context.scene.sequence_editor else None
    if strip is not None:
        return str(strip[vse.SHOT_ID]), str(strip.get(vse.CODE, ""))
    scene_shot = context.scene.aipipe_shot
    if scene_shot.shot_id:
        return scene_shot.shot_id, scene_shot.shot_code
    form = context.window_manager.aipipe.form
    return form.shot_id, form.code


class AIPIPE_OT_images_load_takes(bpy.types.Operator):
    """List the shot's takes with their prompts and parameters, and show its first frame"""

    bl_idname = "aipipe.images_load_takes"
    bl_label = "Load takes"
    bl_options = {"REGISTER"}

    shot_id: StringProperty(options={"SKIP_SAVE"})  # type: ignore[valid-type]

    @classmethod
    def poll(cls, context: Any) -> bool:
        if not ensure_online(cls, context):
            return False
        if not context_shot(context)[0]:
            cls.poll_message_set(tip("Pick a shot, select its strip, or set up this scene for one"))
            return False
        return True

    def execute(self, context: Any) -> set[str]:
        shot_id, code = context_shot(context)
        if self.shot_id and self.shot_id != shot_id:
            shot_id, code = (
                self.shot_id,
                str(runtime.get().table("shots").get(self.shot_id, {}).get("code", "")),
            )
        load_takes(shot_id, code, then=show)
        return {"FINISHED"}


def _has_takes(cls: type, context: Any) -> bool:
    if not ensure_online(cls, context):
        return False
    if not len(state().takes):
        cls.poll_message_set(tip("Load the shot's takes first"))
        return False
    return True


class AIPIPE_OT_images_step_take(bpy.types.Operator):
    """Show the next (or previous) take of the compared shot (Alt+Page Down / Alt+Page Up)"""

    bl_idname = "aipipe.images_step_take"
    bl_label = "Step take"
    bl_options = {"REGISTER"}

    step: IntProperty(name="Step", default=1)  # type: ignore[valid-type]

    @classmethod
    def poll(cls, context: Any) -> bool:
        return _has_takes(cls, context)

    def execute(self, context: Any) -> set[str]:
        st = state()
        if st.show == "B" and st.mode == "SINGLE":
            st.other_index = core.step(st.other_index, len(st.takes), self.step)
        else:
            st.take_index = core.step(st.take_index, len(st.takes), self.step)
        show()
        return {"FINISHED"}


class AIPIPE_OT_images_set_take(bpy.types.Operator):
    """Make this take A or B of the comparison"""

    bl_idname = "aipipe.images_set_take"
    bl_label = "Compare take"
    bl_options = {"REGISTER", "INTERNAL"}

    index: IntProperty()  # type: ignore[valid-type]
    slot: StringProperty(default="A")  # type: ignore[valid-type]

    @classmethod
    def poll(cls, context: Any) -> bool:
        return _has_takes(cls, context)

    def execute(self, context: Any) -> set[str]:
        st = state()
        if not 0 <= self.index < len(st.takes):
            return {"CANCELLED"}
        if self.slot == "B":
            st.other_index = self.index
        else:
            st.take_index = self.index
        show()
        return {"FINISHED"}


class AIPIPE_OT_images_flip(bpy.types.Operator):
    """Flip between take A and take B"""

    bl_idname = "aipipe.images_flip"
    bl_label = "A/B"
    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context: Any) -> bool:
        return _has_takes(cls, context)

    def execute(self, context: Any) -> set[str]:
        st = state()
        st.show = "B" if st.show == "A" else "A"  # its update shows it
        return {"FINISHED"}


class AIPIPE_OT_images_show(bpy.types.Operator):
    """Show the comparison again (after changing the mode or the wipe)"""

    bl_idname = "aipipe.images_show"
    bl_label = "Show"
    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context: Any) -> bool:
        return _has_takes(cls, context)

    def execute(self, context: Any) -> set[str]:
        show()
        return {"FINISHED"}


def shown_take() -> Any:
    """The take the Image Editor shows (A, or B when B is shown); None when nothing is."""
    st = state()
    return next((t for t in st.takes if t.version_id == st.shown_version), None)


CLASSES = (
    AIPIPE_OT_images_load_takes,
    AIPIPE_OT_images_step_take,
    AIPIPE_OT_images_set_take,
    AIPIPE_OT_images_flip,
    AIPIPE_OT_images_show,
)


def register() -> None:
    register_classes(CLASSES)
    runtime.get().subscribe("version.created", on_version)


def unregister() -> None:
    if runtime.is_ready():
        runtime.get().unsubscribe(on_version)
    unregister_classes(CLASSES)
