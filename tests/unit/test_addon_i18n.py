"""The add-on's Korean table is complete for every text the code shows, and each translation keeps the
placeholders of its English (no Blender needed; tests/blender/test_i18n.py checks the registered names)."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

from blender_addon.i18n import iface, table, translation_dict

KOREAN = table()  # the main table and each feature's own (blender_addon/korean/<feature>.py)

ROOT = Path(__file__).resolve().parents[2] / "blender_addon"
TRANSLATED_CALLS = {"iface", "tip", "poll_message_set", "run", "send", "report"}
TEXT_KEYWORD_CALLS = {"label", "operator", "prop", "prop_enum", "menu", "popover"}
HANGUL = re.compile(r"[\uac00-\ud7a3]")


def _shown_texts() -> tuple[dict[str, str], list[str]]:
    """Literal texts handed to the UI (where each is), and f-strings that would escape translation."""
    literals: dict[str, str] = {}
    untranslatable: list[str] = []
    for path in sorted(ROOT.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            candidates: list[ast.expr] = []
            if name in TRANSLATED_CALLS and node.args:
                report_with_level = name == "report" and isinstance(node.args[0], ast.Set)
                candidates.append(node.args[1] if report_with_level and len(node.args) > 1 else node.args[0])
            translate_off = any(
                k.arg == "translate" and isinstance(k.value, ast.Constant) and k.value.value is False
                for k in node.keywords
            )
            if name in TEXT_KEYWORD_CALLS and not translate_off:
                candidates += [k.value for k in node.keywords if k.arg == "text"]
            for candidate in candidates:
                branches = (
                    [candidate.body, candidate.orelse] if isinstance(candidate, ast.IfExp) else [candidate]
                )
                for branch in branches:
                    where = f"{path.relative_to(ROOT)}:{branch.lineno}"
                    if (
                        isinstance(branch, ast.Constant)
                        and isinstance(branch.value, str)
                        and branch.value.strip()
                    ):
                        literals.setdefault(branch.value, where)
                    elif isinstance(branch, ast.JoinedStr):
                        untranslatable.append(f"{where} {ast.unparse(branch)}")
    return literals, untranslatable


def test_every_text_the_code_shows_has_a_korean_entry() -> None:
    literals, _ = _shown_texts()
    missing = [f"{where}: {text!r}" for text, where in literals.items() if text not in KOREAN]
    assert missing == []


def _enum_item_texts() -> dict[str, str]:
    """Names and tooltips of enum items written in the code, `("KEY", "Name", "Tooltip")` (static or built by
    an items function)."""
    found: dict[str, str] = {}
    for path in sorted(ROOT.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Tuple) or len(node.elts) != 3:
                continue
            parts = [e.value if isinstance(e, ast.Constant) else None for e in node.elts]
            if not all(isinstance(p, str) for p in parts) or not re.fullmatch(r"[A-Z][A-Z0-9_]*", parts[0]):
                continue
            for text in parts[1:]:
                if re.search(r"[A-Za-z]", text):
                    found.setdefault(text, f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_every_enum_item_has_a_korean_entry() -> None:
    items = _enum_item_texts()
    assert len(items) > 10
    assert [f"{where}: {text!r}" for text, where in items.items() if text not in KOREAN] == []


def test_every_message_template_has_a_korean_entry() -> None:
    """Templates kept in a variable before `iface(text, ...)` are found by their `{field}`s."""
    templates: dict[str, str] = {}
    for path in sorted(ROOT.rglob("*.py")):
        if path.name == "i18n.py" or path.parent.name == "korean":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value
                if re.search(r"\{[a-z_]+\}", text) and re.search(r"[A-Za-z]{3}", text) and "/" not in text:
                    templates.setdefault(text, f"{path.relative_to(ROOT)}:{node.lineno}")
    assert len(templates) > 30
    assert [f"{where}: {text!r}" for text, where in templates.items() if text not in KOREAN] == []


def test_messages_are_templates_not_f_strings() -> None:
    _, untranslatable = _shown_texts()
    assert untranslatable == []  # build them with iface("... {name} ...", name=...) so they translate


def test_korean_keeps_the_placeholders_of_the_english() -> None:
    def fields(text: str) -> list[str]:
        return sorted(name for _, name, _, _ in string.Formatter().parse(text) if name is not None)

    differ = [english for english, korean in KOREAN.items() if fields(english) != fields(korean)]
    assert differ == []


def test_korean_entries_are_korean_unless_they_are_names() -> None:
    names = {"Linux", "macOS", "Windows", "LLM", "Fountain", "OpenTimelineIO", "OTIO JSON", "FCP 7 XML"}
    names |= {"EDL (CMX 3600)", "XLSX", "CSV", "JSON", "{strip}: {stage} v{number}", "{file}: {summary}"}
    names |= {"A/B", "A", "B"}  # the images feature's side-by-side compare
    names |= {"X", "Y", "Z"}  # the camera feature's vanishing-line axes
    untranslated = [e for e, k in KOREAN.items() if e not in names and not HANGUL.search(k)]
    assert untranslated == []


def test_the_table_is_registered_for_korean_in_the_default_and_operator_contexts() -> None:
    table = translation_dict()
    assert set(table) == {"ko_KR", "ko"}
    assert table["ko_KR"][("*", "Build edit")] == table["ko_KR"][("Operator", "Build edit")] == "편집 만들기"


def test_templates_fill_in_their_fields_outside_blender() -> None:
    text = iface("Built the edit: {shots} shots, {frames} frames", shots=3, frames=96)
    assert text == "Built the edit: 3 shots, 96 frames"  # English where there is no Blender to ask
