"""AIPipeline for Blender: register and unregister the feature packages, nothing else.

Each name in `FEATURES` is a sub-package exposing `register()` / `unregister()`; they are registered in
this order and unregistered in reverse, after the Korean table (`i18n`) and the runtime. Add a feature with
a one-line edit of the tuple. Nothing here imports `bpy` at import time, so bpy-free helpers under this
package (core/, opsdata modules) import without Blender.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

FEATURES = (
    "connect",
    "shots",
    "layout",
    "playblast",
    "render",
    "editorial",
    "breakdown",
    "shotlist",
    "images",
    "control",
    "camera",
)


def _features() -> list:
    return [importlib.import_module(f".{name}", __package__) for name in FEATURES]


def parts(package: str, names: tuple[str, ...]) -> tuple[Callable[[], None], Callable[[], None]]:
    """`register` / `unregister` for a feature package made of modules that each have their own: they are
    registered in the order given (properties before the operators and panels that use them) and
    unregistered in reverse. Imported lazily, so importing the package needs no `bpy`."""

    def modules() -> list:
        return [importlib.import_module(f".{name}", package) for name in names]

    def register() -> None:
        for module in modules():
            module.register()

    def unregister() -> None:
        for module in reversed(modules()):
            module.unregister()

    return register, unregister


def register() -> None:
    from . import i18n, runtime

    i18n.register()
    runtime.register()
    registered = []
    try:
        for feature in _features():
            feature.register()
            registered.append(feature)
    except Exception:
        # A feature that fails to register must not leave the others half-registered.
        for feature in reversed(registered):
            feature.unregister()
        runtime.unregister()
        i18n.unregister()
        raise


def unregister() -> None:
    from . import i18n, runtime

    for feature in reversed(_features()):
        feature.unregister()
    runtime.unregister()
    i18n.unregister()
