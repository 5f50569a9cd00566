"""Every text the add-on registers with Blender that an artist can read: operator names and tooltips, panel
labels, property names, descriptions and enum items (the add-on's own, not those it inherits)."""

from __future__ import annotations

from typing import Any

import bpy

BASES = ("Operator", "Panel", "UIList", "PropertyGroup", "AddonPreferences", "Menu")
OWNERS = ("Scene", "WindowManager", "Object", "Text")  # the data the add-on hangs its settings on


def _inherited() -> set[str]:
    names: set[str] = set()
    for base in BASES:
        base_rna = getattr(bpy.types, base).bl_rna
        names |= {p.identifier for p in base_rna.properties}
    return names


def _property_texts(rna: Any, where: str, skip: set[str]) -> list[tuple[str, str]]:
    found = []
    for prop in rna.properties:
        if prop.identifier in skip or prop.name in ("", prop.identifier):
            continue  # unnamed properties are internal (set by buttons, never shown with a label)
        found.append((f"{where}.{prop.identifier}", prop.name))
        if prop.description:
            found.append((f"{where}.{prop.identifier} (tooltip)", prop.description))
        if prop.type == "ENUM" and not prop.is_enum_flag:
            for item in prop.enum_items:  # dynamic (server data) enums list nothing here
                at = f"{where}.{prop.identifier}[{item.identifier}]"
                found.append((at, item.name))
                if item.description:
                    found.append((f"{at} (tooltip)", item.description))
    return found


def registered_texts(addon_module: str) -> list[tuple[str, str]]:
    """(where, English text) for every readable text of the enabled add-on."""
    skip = _inherited()
    found: list[tuple[str, str]] = []
    for name in dir(bpy.ops.aipipe):
        rna = getattr(bpy.ops.aipipe, name).get_rna_type()
        found.append((f"aipipe.{name}", rna.name))
        if rna.description:
            found.append((f"aipipe.{name} (tooltip)", rna.description))
        found += _property_texts(rna, f"aipipe.{name}", skip)
    for name in dir(bpy.types):
        cls = getattr(bpy.types, name)
        if name.startswith("AIPIPE_") and issubclass(cls, bpy.types.Panel):
            found.append((name, cls.bl_label))
    # Property groups are not in bpy.types: follow the add-on's pointers from the data it extends.
    seen: set[str] = set()
    groups = [
        (f"{owner}.{prop.identifier}", prop.fixed_type)
        for owner in OWNERS
        for prop in getattr(bpy.types, owner).bl_rna.properties
        if prop.identifier.startswith("aipipe") and prop.type == "POINTER"
    ]
    while groups:
        where, rna = groups.pop()
        if rna.identifier in seen:
            continue
        seen.add(rna.identifier)
        found += _property_texts(rna, where, skip)
        groups += [
            (f"{where}.{prop.identifier}", prop.fixed_type)
            for prop in rna.properties
            if prop.type in ("POINTER", "COLLECTION") and prop.fixed_type.identifier.startswith("AIPIPE_")
        ]
    prefs = bpy.context.preferences.addons[addon_module].preferences
    found += _property_texts(prefs.bl_rna, "preferences", skip)
    for prop in prefs.bl_rna.properties:
        if prop.type == "COLLECTION" and prop.identifier not in skip:
            found += _property_texts(prop.fixed_type, f"preferences.{prop.identifier}", skip)
    return [(where, text) for where, text in found if text]
