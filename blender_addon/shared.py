"""Where the add-on finds `aipipe_shared`, the bpy-free code it shares with the server and the agent.

Inside the extension zip the build copies the package in as a sub-package of the extension (Blender's
extension rules forbid touching `sys.path`); in a repository checkout it is the top-level package. Either
way the add-on imports it through this module: `from ..shared import naming`.
"""

from __future__ import annotations

import importlib
from types import ModuleType

_ROOT_PACKAGE = __package__ or "blender_addon"


def _shared(name: str) -> ModuleType:
    try:
        return importlib.import_module(f".aipipe_shared.{name}", _ROOT_PACKAGE)
    except ModuleNotFoundError as exc:
        if exc.name is None or not exc.name.startswith(f"{_ROOT_PACKAGE}.aipipe_shared"):
            raise
        return importlib.import_module(f"aipipe_shared.{name}")


naming = _shared("naming")
editorial = _shared("editorial")
fspy = _shared("fspy")

__all__ = ["editorial", "fspy", "naming"]
