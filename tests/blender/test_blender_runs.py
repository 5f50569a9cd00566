"""The harness itself: this interpreter is a real Blender of a supported release."""

from __future__ import annotations

import bpy


def test_this_is_a_supported_blender() -> None:
    assert bpy.app.version >= (4, 2, 0)
    assert bpy.app.background  # module mode is headless
