"""Control inputs made in Blender: depth and line images from the shot camera, painted masks, character
references."""

from __future__ import annotations


def register() -> None:
    """Nothing yet."""


def unregister() -> None:
    """Nothing yet."""
