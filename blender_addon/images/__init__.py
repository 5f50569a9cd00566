"""The image loop in Blender: batch first-frame candidates for selected shots, compare takes, review and
choose the first frame."""

from __future__ import annotations


def register() -> None:
    """Nothing yet."""


def unregister() -> None:
    """Nothing yet."""
