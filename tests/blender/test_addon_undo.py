"""The undo step of a change that lands in a worker callback: the callback runs from a timer, where
Blender's context has no window, and the step must still be pushed and undo the change."""

from __future__ import annotations

import bpy


def test_a_step_pushed_from_a_timer_context_without_a_window_undoes_the_change(addon) -> None:
    from blender_addon.undo import push_step

    bpy.ops.ed.undo_push(message="Before")
    with bpy.context.temp_override(window=None):  # what a bpy.app.timers callback sees
        assert bpy.context.window is None and not bpy.ops.ed.undo_push.poll()
        bpy.context.scene.frame_end = 55
        assert push_step("Build edit")
    assert bpy.ops.ed.undo() == {"FINISHED"}
    assert bpy.context.scene.frame_end == 250


def test_the_runtime_pushes_the_step_after_the_callback_even_when_it_fails(addon) -> None:
    from tests.blender.helpers import idle, pump

    rt = addon.get()
    bpy.ops.ed.undo_push(message="Before")

    def half_way(_result: object) -> None:
        bpy.context.scene.frame_end = 77
        raise RuntimeError("the media went missing half-way")

    rt.run("Building the edit", lambda _ctx: None, half_way, undo="Build edit")
    pump(idle, what="the callback", errors_ok=True)
    assert rt.message.level == "ERROR" and bpy.context.scene.frame_end == 77
    assert bpy.ops.ed.undo() == {"FINISHED"}  # the half-made change is one step, taken back at once
    assert bpy.context.scene.frame_end == 250
