"""The panels' draw code, run against a recording layout (background Blender draws no UI): every property
and operator a panel shows must exist, in each state the artist can see (logged out, logged in, a shot
picked, a conflict, a running task)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import bpy

from tests.blender.helpers import idle, pump


class RecordingLayout:
    """Stands in for `UILayout`; checks names against Blender's RNA instead of drawing."""

    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.alert = False
        self.enabled = True

    def _child(self, *_args: Any, **_kwargs: Any) -> RecordingLayout:
        return RecordingLayout(self.log)

    row = column = box = split = _child

    def label(self, text: str = "", **_kwargs: Any) -> None:
        self.log.append(f"label:{text}")

    def prop(self, data: Any, name: str, **_kwargs: Any) -> None:
        assert name in data.bl_rna.properties, f"{type(data).__name__} has no property {name!r}"
        self.log.append(f"prop:{name}")

    def operator(self, idname: str, **_kwargs: Any) -> Any:
        area, name = idname.split(".")
        operator = getattr(getattr(bpy.ops, area), name)
        properties = operator.get_rna_type().properties

        class Props:
            def __setattr__(self, key: str, value: Any) -> None:
                assert key in properties, f"{idname} has no property {key!r}"

        self.log.append(f"operator:{idname}")
        return Props()

    def template_list(
        self, listtype: str, _id: str, data: Any, prop: str, active: Any, active_prop: str, **_kw: Any
    ):
        assert hasattr(bpy.types, listtype) and prop in data.bl_rna.properties
        assert active_prop in active.bl_rna.properties
        self.log.append(f"list:{listtype}")


PANELS = (
    "AIPIPE_PT_connection",
    "AIPIPE_PT_shots",
    "AIPIPE_PT_shot_details",
    "AIPIPE_PT_layout",
    "AIPIPE_PT_playblast",
    "AIPIPE_PT_render",
)


def draw_all(context: Any) -> list[str]:
    log: list[str] = []
    for name in PANELS:
        panel = getattr(bpy.types, name)
        poll = getattr(panel, "poll", None)
        if poll is not None and not poll(context):
            continue
        panel.draw(SimpleNamespace(layout=RecordingLayout(log)), context)
    return log


def test_panels_draw_when_logged_out(addon) -> None:
    log = draw_all(bpy.context)
    assert "operator:aipipe.connect_login" in log and "label:Log in to browse shots" in log


def test_panels_draw_logged_in_with_a_shot_a_conflict_and_work_running(online, studio) -> None:
    state = bpy.context.window_manager.aipipe
    state.shot_index = 0
    log = draw_all(bpy.context)
    for expected in (
        "operator:aipipe.connect_logout",
        "list:AIPIPE_UL_shots",
        "prop:description",
        "operator:aipipe.shots_save",
        "operator:aipipe.layout_setup_shot",
        "operator:aipipe.playblast_create",
        "operator:aipipe.render_send",
    ):
        assert expected in log, expected
    state.form.conflict, state.form.conflict_fields = True, "description"
    online.get().worker.submit(lambda ctx: ctx.progress(0.5, "half"), label="Example")
    log = draw_all(bpy.context)
    assert (
        "operator:aipipe.shots_conflict_reload" in log and "operator:aipipe.shots_conflict_overwrite" in log
    )
    pump(idle, what="example task")
    # the list rows draw too
    ul = bpy.types.AIPIPE_UL_shots
    fake = SimpleNamespace(filter_name="0010", use_filter_invert=False, bitflag_filter_item=1 << 30)
    row_log: list[str] = []
    for item in state.shots:
        ul.draw_item(fake, bpy.context, RecordingLayout(row_log), state, item, 0, state, "shot_index")
    flags, _order = ul.filter_items(fake, bpy.context, state, "shots")
    assert flags == [1 << 30, 0] and f"label:{studio.shots[0]['code']}" in row_log


def test_long_work_drives_blenders_progress_and_the_vse_panel_shows_it(online, studio) -> None:
    import threading

    rt = online.get()
    release = threading.Event()

    def work(ctx: Any) -> None:
        ctx.progress(0.5, "half way")
        release.wait(30)

    rt.run("Building the edit", work, long=True)
    try:
        pump(lambda: rt.progress == 0.5, what="the progress indicator")
        log: list[str] = []
        bpy.types.AIPIPE_PT_editorial.draw(SimpleNamespace(layout=RecordingLayout(log)), bpy.context)
        assert "label:Building the edit 50% half way" in log
        assert "operator:aipipe.connect_cancel_tasks" in log
    finally:
        release.set()
    pump(lambda: idle() and rt.progress is None, what="the progress indicator to end")
    rt.run("Loading history", lambda ctx: ctx.progress(0.5))  # short work leaves the cursor alone
    assert rt.follow_progress() is None
    pump(idle, what="short work")
