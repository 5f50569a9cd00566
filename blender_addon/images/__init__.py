"""The image loop in Blender: batch first-frame candidates (takes) for the ticked shots or the selected
strips, compare takes (Image Editor A/B, side by side, wipe; VSE A/B wipe), step through them with the
keyboard, review with frame notes (and markers as notes), use a take as the first frame, redo from a take,
work on a take (refine, edit with character references, inpaint with its mask, outpaint).
`core` is bpy-free (tested with plain pytest)."""

from __future__ import annotations

from .. import parts

register, unregister = parts(
    __package__, ("props", "takes", "generate", "wipe", "review", "rework", "keys", "ui")
)
