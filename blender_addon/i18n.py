"""Korean for the add-on's interface through `bpy.app.translations`.

`KOREAN` maps each English text (operator and panel labels, tooltips, property names, messages) to its
Korean; `register()` hands it to Blender for the `ko_KR` locale (and `ko`, its name in some releases) in
both the default and the operator context, so Blender shows it when its language is Korean. Messages made
at run time go through `iface(template, **fields)`, which translates the template before filling it in.
Server messages stay English (they carry stable codes); `tests/blender/test_i18n.py` checks the table
covers every registered name and description.
"""

from __future__ import annotations

from typing import Any

LOCALES = ("ko_KR", "ko")
CONTEXTS = ("*", "Operator")

KOREAN: dict[str, str] = {}


def iface(template: str, **fields: Any) -> str:
    """`template` in the interface language, filled with `fields` (`str.format` names)."""
    text = _pgettext(template, tooltip=False)
    return text.format(**fields) if fields else text


def tip(template: str, **fields: Any) -> str:
    """Like `iface`, for tooltips and disabled-button reasons (Blender's tooltip translation switch)."""
    text = _pgettext(template, tooltip=True)
    return text.format(**fields) if fields else text


def _pgettext(text: str, tooltip: bool) -> str:
    try:
        import bpy
    except ImportError:  # bpy-free callers (unit tests) see the English
        return text
    translations = bpy.app.translations
    return translations.pgettext_tip(text) if tooltip else translations.pgettext_iface(text)


def translation_dict() -> dict[str, dict[tuple[str, str], str]]:
    """The table in the shape `bpy.app.translations.register` takes."""
    entries = {(context, english): korean for english, korean in KOREAN.items() for context in CONTEXTS}
    return {locale: dict(entries) for locale in LOCALES}


def register() -> None:
    import bpy

    bpy.app.translations.register(__package__, translation_dict())


def unregister() -> None:
    import bpy

    bpy.app.translations.unregister(__package__)
