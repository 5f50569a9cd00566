"""The A/B wipe in the VSE: two takes of the active strip's shot on stacked channels above it, with a Wipe
effect strip between them over the strip's range (A left of the line, B right of it), or side by side (each
at half size, A left, B right)."""

from __future__ import annotations

from typing import Any

import bpy
from bpy.props import EnumProperty, FloatProperty, StringProperty

from .. import compat, runtime
from ..editorial import vse
from ..editorial.fetch import local_media
from ..i18n import iface, tip
from ..registry import ensure_online, register_classes, unregister_classes
from . import core
from .props import state
from .takes import fetch_takes

COMPARE = "aipipe_compare"  # strip: "A", "B" or "WIPE" on the strips this operator makes


def new_wipe(strips: Any, name: str, channel: int, start: int, length: int, a: Any, b: Any) -> Any:
    """A WIPE effect strip over [start, start + length) between `a` and `b`; `new_effect` takes
    `seq1/seq2` in 4.2, `input1/input2` from 4.4, and `length` instead of `frame_end` from 5.0."""
    inputs = {"input1": a, "input2": b} if compat.HAS_STRIPS else {"seq1": a, "seq2": b}
    span = {"length": length} if compat.IS_5 else {"frame_end": start + length}
    strip = strips.new_effect(name, "WIPE", channel=channel, frame_start=start, **span, **inputs)
    strip.transition_type = "SINGLE"
    strip.direction = "OUT"
    strip.angle = 0.0
    return strip


def compare_strips(scene: Any) -> list[Any]:
    return [s for s in compat.vse_all_strips(scene) if s.get(COMPARE)]


def remove_compare(scene: Any) -> None:
    """Take the A/B strips out: the wipe first (it depends on the other two)."""
    strips = compat.vse_strips(scene)
    for strip in [s for s in compare_strips(scene) if s.get(COMPARE) == "WIPE"]:
        strips.remove(strip)
    for strip in compare_strips(scene):
        strips.remove(strip)


def base_strip(context: Any) -> Any:
    """The edit's strip under the active one (a take or compare strip stands for its shot's edit strip)."""
    strip = vse.active_strip(context)
    if strip is None:
        return None
    if not strip.get(vse.TAKE):
        return strip
    shot = str(strip[vse.SHOT_ID])
    return next((s for s in vse.picture_strips(context.scene) if str(s[vse.SHOT_ID]) == shot), None)


def panel_pair(shot_id: str) -> tuple[str, str]:
    """The panel's A and B when it lists this shot (main thread), else blanks."""
    st = state()
    if st.shot_id != shot_id or not (
        0 <= st.take_index < len(st.takes) and 0 <= st.other_index < len(st.takes)
    ):
        return "", ""
    return st.takes[st.take_index].version_id, st.takes[st.other_index].version_id


def choose(items: list[dict[str, Any]], a: str, b: str) -> tuple[core.Take, core.Take]:
    """The two takes to compare: those asked for, else the first frame (or first take) and the next one."""
    takes = core.takes_of(items)
    if len(takes) < 2:
        raise ValueError(iface("The shot has {count} takes; a wipe needs two", count=len(takes)))
    by_id = {t.version_id: t for t in takes}
    first = next((t for t in takes if t.is_first_frame), takes[0])
    take_a = by_id.get(a) or first
    take_b = by_id.get(b) or next(t for t in takes if t.version_id != take_a.version_id)
    if take_a.version_id == take_b.version_id:
        raise ValueError(iface("Pick two different takes"))
    return take_a, take_b


LAYOUTS = (
    ("WIPE", "Wipe", "A left of the wipe line, B right of it"),
    ("SIDE", "Side by side", "A on the left, B on the right"),
)


def side_by_side(scene: Any, a: Any, b: Any) -> None:
    """A on the left half of the frame, B on the right half, each at half size (B is drawn over A's
    channel, the rest of its area transparent)."""
    quarter = scene.render.resolution_x / 4
    for strip, offset in ((a, -quarter), (b, quarter)):
        strip.transform.scale_x = strip.transform.scale_y = 0.5
        strip.transform.offset_x = offset
    b.blend_type = "ALPHA_OVER"


def apply_wipe(
    scene_name: str,
    strip_name: str,
    a: core.Take,
    b: core.Take,
    paths: list[str],
    at: float,
    layout: str = "WIPE",
) -> Any:
    """Place A and B above the strip with the wipe above both, or side by side (main thread); earlier
    compare strips go first. Returns the wipe strip (None side by side)."""
    scene = vse.scene_named(scene_name)
    strips = compat.vse_strips(scene)
    remove_compare(scene)
    base = strips.get(strip_name)
    if base is None:
        raise RuntimeError(iface("Strip {strip} is gone", strip=strip_name))
    start, end = compat.strip_range(base)
    taken = [
        s.channel
        for s in compat.vse_all_strips(scene)
        if s.channel > base.channel and compat.strip_range(s)[0] < end and compat.strip_range(s)[1] > start
    ]
    plan = core.wipe_plan(base.channel, start, end, taken)
    code = str(base[vse.CODE])
    made = []
    for slot, take, path, channel in (("A", a, paths[0], plan.channel_a), ("B", b, paths[1], plan.channel_b)):
        name = f"{code} {slot} v{take.number:03d}"
        # the take's own first_frame, where said, numbers it in the review dialog (as the review room does)
        strip = vse.place_strip(strips, name, channel, start, end - start, path, True, 0, take.media_first)
        strip[vse.TAKE], strip[COMPARE] = True, slot
        strip[vse.SHOT_ID], strip[vse.CODE], strip[vse.VERSION_ID] = base[vse.SHOT_ID], code, take.version_id
        made.append(strip)
    effect = None
    if layout == "SIDE":
        side_by_side(scene, made[0], made[1])
    else:
        effect = new_wipe(strips, f"{code} A|B", plan.channel_wipe, start, end - start, made[0], made[1])
        effect.use_default_fade = False
        effect.effect_fader = at
        effect[COMPARE] = "WIPE"
    top = plan.channel_b if effect is None else plan.channel_wipe
    text = (
        "{shot}: v{a} | v{b} side by side on channels {channels}"
        if effect is None
        else ("{shot}: v{a} | v{b} wipe on channels {channels}")
    )
    a_number, b_number = f"{a.number:03d}", f"{b.number:03d}"
    channels = f"{plan.channel_a}-{top}"
    runtime.get().report(iface(text, shot=code, a=a_number, b=b_number, channels=channels))
    return effect


class AIPIPE_OT_images_vse_wipe(bpy.types.Operator):
    """Compare two takes of the active strip's shot: both stacked above it, with a Wipe or side by side"""

    bl_idname = "aipipe.images_vse_wipe"
    bl_label = "A/B wipe"
    bl_options = {"REGISTER"}  # no UNDO: the change lands later and pushes its own step (undo.py)

    version_a: StringProperty(options={"SKIP_SAVE"})  # type: ignore[valid-type]
    version_b: StringProperty(options={"SKIP_SAVE"})  # type: ignore[valid-type]
    position: FloatProperty(name="Wipe", description="Where A ends", default=0.5, min=0.0, max=1.0)  # type: ignore[valid-type]
    layout: EnumProperty(name="Layout", items=LAYOUTS, default="WIPE")  # type: ignore[valid-type]

    @classmethod
    def poll(cls, context: Any) -> bool:
        if not ensure_online(cls, context):
            return False
        if base_strip(context) is None:
            cls.poll_message_set(tip("Select a strip of the edit first"))
            return False
        return True

    def execute(self, context: Any) -> set[str]:
        strip = base_strip(context)
        shot_id, scene_name, strip_name = str(strip[vse.SHOT_ID]), context.scene.name, strip.name
        a_id, b_id, at, layout = self.version_a, self.version_b, self.position, self.layout
        if not (a_id or b_id):
            a_id, b_id = panel_pair(shot_id)
        rt = runtime.get()
        listing = fetch_takes(shot_id)

        def work(ctx: Any) -> tuple[core.Take, core.Take, list[str]]:
            a, b = choose(listing(ctx), a_id, b_id)
            paths = []
            for take in (a, b):
                path = local_media(rt, dict(take.file)) if take.file else None
                if path is None:
                    raise ValueError(iface("Take v{number} has no image file", number=f"{take.number:03d}"))
                paths.append(path)
            return a, b, paths

        rt.run(
            "Comparing takes",
            work,
            lambda r: apply_wipe(scene_name, strip_name, r[0], r[1], r[2], at, layout),
            undo=self.bl_label,
            long=True,
        )
        return {"FINISHED"}


class AIPIPE_OT_images_vse_wipe_clear(bpy.types.Operator):
    """Remove the A/B wipe strips"""

    bl_idname = "aipipe.images_vse_wipe_clear"
    bl_label = "Clear wipe"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context: Any) -> bool:
        if not compare_strips(context.scene):
            cls.poll_message_set(tip("No A/B wipe in this edit"))
            return False
        return True

    def execute(self, context: Any) -> set[str]:
        remove_compare(context.scene)
        return {"FINISHED"}


CLASSES = (AIPIPE_OT_images_vse_wipe, AIPIPE_OT_images_vse_wipe_clear)


def register() -> None:
    register_classes(CLASSES)


def unregister() -> None:
    unregister_classes(CLASSES)
