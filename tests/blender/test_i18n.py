"""Korean in real Blender: the table covers every name and tooltip the add-on registers, is handed to
`bpy.app.translations` with the add-on and taken back with it, and shows when Blender speaks Korean.

The `bpy` wheels are built without Blender's translation system (`build_options.international` is False, the
language list holds only DEFAULT and `bpy.app.translations.register` does nothing), so the registration and
Korean-display tests run only in a full Blender build; the completeness walk runs everywhere."""

from __future__ import annotations

import addon_utils
import bpy
import pytest

from tests.blender.i18n_walk import registered_texts


def test_every_registered_name_and_tooltip_has_a_korean_entry(addon) -> None:
    from blender_addon.i18n import table

    korean = table()

    texts = registered_texts("blender_addon")
    assert len(texts) > 150  # operators, panels and properties were found
    missing = sorted({f"{where}: {text!r}" for where, text in texts if text not in korean})
    assert missing == []


NO_TRANSLATIONS = pytest.mark.skipif(
    not bpy.app.build_options.international,
    reason="this Blender is built without translations: bpy.app.translations.register is a no-op",
)


@NO_TRANSLATIONS
def test_the_table_comes_and_goes_with_the_add_on(addon) -> None:
    from blender_addon import i18n

    with pytest.raises(ValueError):  # Blender already holds a table under the add-on's name
        bpy.app.translations.register("blender_addon", i18n.translation_dict())
    addon_utils.disable("blender_addon", default_set=True)
    bpy.app.translations.register("blender_addon", i18n.translation_dict())  # the name is free again
    bpy.app.translations.unregister("blender_addon")
    addon_utils.enable("blender_addon", default_set=True, handle_error=None)


@NO_TRANSLATIONS
def test_with_blender_in_korean_labels_operators_and_reports_are_korean(addon) -> None:
    from blender_addon.i18n import iface

    view = bpy.context.preferences.view
    view.language = "ko_KR"
    view.use_translate_interface = view.use_translate_tooltips = True
    if hasattr(view, "use_translate_reports"):
        view.use_translate_reports = True
    try:
        assert bpy.app.translations.pgettext_iface("Build edit", "Operator") == "편집 만들기"
        assert bpy.app.translations.pgettext_iface("Shot details") == "샷 상세"
        assert iface("Built the edit: {shots} shots, {frames} frames", shots=3, frames=96) == (
            "편집을 만들었습니다: 샷 3개, 96 프레임"
        )
        addon.get().report("Nothing to push")
        assert iface(addon.get().message.text) == "보낼 것이 없습니다"
    finally:
        view.language = "DEFAULT"
