"""The control-input panels' draw code against a recording layout (background Blender draws no UI): every
property, operator and list they show exists, logged in, in a shot's scene, with takes and references
listed, and in the Image Editor beside a mask."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import bpy

from tests.blender.test_addon_panels import RecordingLayout

PANELS = (
    "AIPIPE_PT_control",
    "AIPIPE_PT_control_images",
    "AIPIPE_PT_control_masks",
    "AIPIPE_PT_control_references",
)


class Layout(RecordingLayout):
    def _child(self, *_args: Any, **_kwargs: Any) -> Layout:
        return Layout(self.log)

    row = column = box = split = grid_flow = _child

    def template_icon(self, icon_value: int = 0, **_kwargs: Any) -> None:
        self.log.append(f"icon:{icon_value}")


def _draw(context: Any, names: tuple[str, ...]) -> list[str]:
    log: list[str] = []
    for name in names:
        panel = getattr(bpy.types, name)
        if panel.poll(context):
            panel.draw(SimpleNamespace(layout=Layout(log)), context)
    return log


def test_control_panels_draw_in_a_shot_scene_with_takes_and_references(online, studio) -> None:
    from blender_addon.control import masks

    log = _draw(bpy.context, PANELS)
    assert "label:Set up a shot to make control images and masks" in log
    assert "operator:aipipe.control_render_upload" not in log  # no shot scene yet
    assert "operator:aipipe.control_reference_add" in log  # references need a project only

    scene = bpy.context.scene
    scene.aipipe_shot.shot_id, scene.aipipe_shot.shot_code = studio.shots[0]["id"], studio.shots[0]["code"]
    state = bpy.context.window_manager.aipipe_control
    state.takes_shot_id = studio.shots[0]["id"]
    take = state.takes.add()
    take.id, take.code, take.label = "t1", "v001", "v001 · approve"
    reference = state.references.add()
    reference.id, reference.label = "r1", "rina.png (64×96)"
    log = _draw(bpy.context, PANELS)
    for expected in (
        "prop:depth",
        "prop:canny",
        "prop:depth_16bit",
        "operator:aipipe.control_render_upload",
        "list:AIPIPE_UL_control_takes",
        "operator:aipipe.control_takes_refresh",
        "operator:aipipe.control_mask_new",
        "operator:aipipe.control_mask_open",
        "operator:aipipe.control_mask_save",
        "operator:aipipe.control_mask_upload_file",
        "prop:character",
        "label:rina.png (64×96)",
        "operator:aipipe.control_reference_remove",
    ):
        assert expected in log, expected
    rows: list[str] = []
    bpy.types.AIPIPE_UL_control_takes.draw_item(
        None, bpy.context, Layout(rows), state, take, 0, state, "take_index"
    )
    assert rows == ["label:v001 · approve"]

    # the Image Editor's mask panel, beside a mask made on a take
    image = bpy.data.images.new("SHT_0010_v001_mask", 8, 8)
    image[masks.TAKE_ID], image[masks.SHOT_ID] = "t1", studio.shots[0]["id"]
    editor = SimpleNamespace(
        window_manager=bpy.context.window_manager, scene=scene, space_data=SimpleNamespace(image=image)
    )
    log = _draw(editor, ("AIPIPE_PT_control_mask_image",))
    assert "label:SHT_0010_v001_mask" in log and "operator:aipipe.control_mask_save" in log
