"""Panels: "Control inputs" in the 3D View sidebar (control images, masks, character references) and the
mask tools in the Image Editor's sidebar."""

from __future__ import annotations

import bpy

from .. import runtime
from ..connect.ui import ImageEditorPanel, SidebarPanel
from ..registry import register_classes, unregister_classes
from . import masks, references


class AIPIPE_UL_control_takes(bpy.types.UIList):
    def draw_item(self, context, layout, data, item, icon, active_data, active_prop) -> None:  # type: ignore[no-untyped-def]
        layout.label(text=item.label, icon="IMAGE_DATA", translate=False)


class AIPIPE_PT_control(SidebarPanel, bpy.types.Panel):
    bl_idname = "AIPIPE_PT_control"
    bl_label = "Control inputs"
    bl_options = {"DEFAULT_CLOSED"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return runtime.is_online()

    def draw(self, context: bpy.types.Context) -> None:
        if not context.scene.aipipe_shot.shot_id:
            self.layout.label(text="Set up a shot to make control images and masks", icon="INFO")


class _ShotSubpanel(SidebarPanel):
    """Mixin for a "Control inputs" subpanel shown while online in a shot's scene."""

    bl_parent_id = "AIPIPE_PT_control"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return runtime.is_online() and bool(context.scene.aipipe_shot.shot_id)


class AIPIPE_PT_control_images(_ShotSubpanel, bpy.types.Panel):
    bl_idname = "AIPIPE_PT_control_images"
    bl_label = "Control images"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        state = context.window_manager.aipipe_control
        row = layout.row(align=True)
        row.prop(state, "depth", toggle=True)
        row.prop(state, "canny", toggle=True)
        row.prop(state, "pose", toggle=True)
        layout.prop(state, "depth_16bit")
        layout.operator("aipipe.control_render_upload", icon="RENDER_STILL")


class AIPIPE_PT_control_masks(_ShotSubpanel, bpy.types.Panel):
    bl_idname = "AIPIPE_PT_control_masks"
    bl_label = "Masks"

    def draw(self, context: bpy.types.Context) -> None:
        draw_masks(self.layout, context)


def draw_masks(layout: bpy.types.UILayout, context: bpy.types.Context) -> None:
    state = context.window_manager.aipipe_control
    row = layout.row()
    row.label(text="Takes")
    row.operator("aipipe.control_takes_refresh", text="", icon="FILE_REFRESH")
    if state.takes_shot_id == context.scene.aipipe_shot.shot_id:
        layout.template_list("AIPIPE_UL_control_takes", "", state, "takes", state, "take_index", rows=3)
    col = layout.column(align=True)
    col.operator("aipipe.control_mask_new", icon="BRUSH_DATA")
    col.operator("aipipe.control_mask_open", icon="FILEBROWSER")
    col.operator("aipipe.control_mask_save", icon="EXPORT")
    col.operator("aipipe.control_mask_upload_file", icon="FILE_IMAGE")


class AIPIPE_PT_control_references(SidebarPanel, bpy.types.Panel):
    bl_idname = "AIPIPE_PT_control_references"
    bl_label = "Character references"
    bl_parent_id = "AIPIPE_PT_control"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return runtime.is_online() and bool(runtime.current_project_id())

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        state = context.window_manager.aipipe_control
        row = layout.row(align=True)
        row.prop(state, "character", text="")
        row.operator("aipipe.control_references_refresh", text="", icon="FILE_REFRESH")
        grid = layout.grid_flow(columns=2, even_columns=True, align=True)
        for item in state.references:
            box = grid.box()
            icon = references.icon_for(item.id)
            if icon:
                box.template_icon(icon_value=icon, scale=5.0)
            row = box.row(align=True)
            row.label(text=item.label, translate=False)
            row.operator("aipipe.control_reference_remove", text="", icon="X").reference_id = item.id
        layout.operator("aipipe.control_reference_add", icon="ADD")


class AIPIPE_PT_control_mask_image(ImageEditorPanel, bpy.types.Panel):
    """The mask tools beside the picture being painted."""

    bl_idname = "AIPIPE_PT_control_mask_image"
    bl_label = "Mask"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return runtime.is_online()

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        image = getattr(context.space_data, "image", None)
        if masks.is_mask(image):
            layout.label(text=image.name, icon="IMAGE_DATA", translate=False)
            layout.label(text="Paint white where the take should be repainted", icon="INFO")
        draw_masks(layout, context)


CLASSES = (
    AIPIPE_UL_control_takes,
    AIPIPE_PT_control,
    AIPIPE_PT_control_images,
    AIPIPE_PT_control_masks,
    AIPIPE_PT_control_references,
    AIPIPE_PT_control_mask_image,
)


def register() -> None:
    register_classes(CLASSES)


def unregister() -> None:
    unregister_classes(CLASSES)
