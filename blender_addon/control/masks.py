"""Masks painted in Blender's Image Editor on a take: white = repaint.

A new mask is an image the size of the take that shows the take dimmed (at most `maps.SHOWN` bright), so the
artist sees where to paint; white paint over it is the mask. Saving reads the pixels back, keeps what is
brighter than the dimmed take (`maps.mask_map`) and writes a grey PNG. The take a mask belongs to rides on
the image as custom properties, so the mask can be saved later, also after the .blend was reopened.
"""

from __future__ import annotations

import logging
from typing import Any

import bpy
import numpy as np

from ..i18n import iface
from . import maps, png

TAKE_ID = "aipipe_take_id"
SHOT_ID = "aipipe_shot_id"
FLOOR = "aipipe_mask_floor"
log = logging.getLogger(__name__)


def _pixels(image: Any) -> np.ndarray:
    """An image's pixels as H×W×channels floats, top row first."""
    width, height = image.size[:]
    channels = image.channels
    flat = np.empty(width * height * channels, np.float32)
    image.pixels.foreach_get(flat)
    return flat.reshape(height, width, channels)[::-1]


def new_mask(take_path: str, name: str, take_id: str, shot_id: str) -> Any:
    """A mask image for the take at `take_path`: its size, the take dimmed under where paint will go."""
    take = bpy.data.images.load(take_path, check_existing=False)
    try:
        width, height = take.size[:]
        if not width or not height:
            raise RuntimeError(iface("Blender cannot read the take's picture {path}", path=take_path))
        start = maps.dim(_to_rgba(_pixels(take)))
    finally:
        bpy.data.images.remove(take)
    old = bpy.data.images.get(name)
    if old is not None:  # one mask image per take: a new one starts over
        bpy.data.images.remove(old)
    mask = bpy.data.images.new(name, width, height, alpha=True)
    mask.pixels.foreach_set(np.ascontiguousarray(start[::-1]).ravel())
    mask.update()
    mask[TAKE_ID], mask[SHOT_ID], mask[FLOOR] = take_id, shot_id, maps.DIM
    return mask


def open_mask(path: str, name: str, take_id: str, shot_id: str) -> Any:
    """An existing black-and-white mask file, opened to paint on further and save for the take."""
    image = bpy.data.images.load(path, check_existing=False)
    if not image.size[0] or not image.size[1]:
        bpy.data.images.remove(image)
        raise RuntimeError(iface("Blender cannot read the mask {path}", path=path))
    old = bpy.data.images.get(name)
    if old is not None:  # one mask image per take: the file takes the place of the one painted before
        bpy.data.images.remove(old)
    image.name = name
    image[TAKE_ID], image[SHOT_ID], image[FLOOR] = take_id, shot_id, 0.0
    return image


def _to_rgba(pixels: np.ndarray) -> np.ndarray:
    if pixels.shape[-1] == 4:
        return pixels
    out = np.ones(pixels.shape[:2] + (4,), np.float32)
    out[..., :3] = pixels[..., :3] if pixels.shape[-1] >= 3 else pixels[..., :1]
    return out


def is_mask(image: Any) -> bool:
    return image is not None and bool(image.get(TAKE_ID))


def take_of(image: Any) -> tuple[str, str]:
    """(take id, shot id) a mask image belongs to; ("", "") for another image."""
    return str(image.get(TAKE_ID, "")), str(image.get(SHOT_ID, ""))


def mask_array(image: Any) -> np.ndarray:
    """The mask as H×W uint8, white = repaint (the dimmed take under the paint is dropped)."""
    width, height = image.size[:]
    if not width or not height:
        raise RuntimeError(iface("Image {image} has no pixels", image=image.name))
    return maps.mask_map(_to_rgba(_pixels(image)), float(image.get(FLOOR, 0.0)))


def save_mask(image: Any, path: str) -> str:
    """Write the mask of `image` as a grey PNG at `path`."""
    return png.write_grey(path, mask_array(image))


def show_for_painting(context: Any, image: Any) -> bool:
    """Show `image` in the Image Editors of the open windows, in paint mode with white paint. False when
    Blender has no Image Editor open (or no window, in background mode)."""
    shown = False
    for window in getattr(context.window_manager, "windows", []):
        for area in window.screen.areas:
            if area.type != "IMAGE_EDITOR":
                continue
            space = area.spaces.active
            space.image = image
            space.ui_mode = "PAINT"
            shown = True
    _white_paint(context)
    return shown


def _white_paint(context: Any) -> None:
    """White paint, wherever this Blender keeps the paint colour (unified settings moved in 5.0)."""
    settings = context.tool_settings
    owners = [getattr(settings, "unified_paint_settings", None)]
    image_paint = getattr(settings, "image_paint", None)
    if image_paint is not None:
        owners += [getattr(image_paint, "unified_paint_settings", None), getattr(image_paint, "brush", None)]
    for owner in owners:
        if owner is None or not hasattr(owner, "color"):
            continue
        try:
            owner.color = (1.0, 1.0, 1.0)
        except (AttributeError, TypeError) as exc:  # a brush from an asset library is read-only
            log.debug("paint colour not set on %s: %s", owner, exc)
