"""Each feature's Korean entries, merged into the add-on's table by `blender_addon.i18n.table()`."""
