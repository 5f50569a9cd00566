"""Every text of the web pages exists in English and Korean, and every key a page uses is in its table."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from sync_server.web.i18n import I18N_DIR, LANGUAGES, page_table

WEB = I18N_DIR.parent
PAGES = ["index", "login", "farm"]
# t("key") / t(`key_${…}`) in scripts; {{ t.key }} / t["key"] in templates.
SCRIPT_KEY = re.compile(r"""\bt\(\s*["']([a-z0-9_]+)["']\s*[,)]""")
TEMPLATE_KEY = re.compile(r"""\bt\.([a-z0-9_]+)|\bt\[["']([a-z0-9_]+)["']\]""")


def test_every_text_has_every_language() -> None:
    for path in sorted(I18N_DIR.glob("*.json")):
        for key, texts in json.loads(path.read_text(encoding="utf-8")).items():
            for lang in LANGUAGES:
                assert texts.get(lang, "").strip(), f"{path.name}: {key} has no {lang} text"


@pytest.mark.parametrize("page", PAGES)
def test_every_key_a_page_uses_is_in_its_table(page: str) -> None:
    table = page_table(page)
    used: set[str] = set()
    for source in (WEB / "static" / "js" / f"{page}.js", WEB / "static" / "js" / "api.js"):
        if source.exists():
            used |= set(SCRIPT_KEY.findall(source.read_text(encoding="utf-8")))
    for template in (WEB / "templates" / f"{page}.html", WEB / "templates" / "base.html"):
        used |= {a or b for a, b in TEMPLATE_KEY.findall(template.read_text(encoding="utf-8"))}
    assert sorted(used - table.keys()) == []


def test_a_table_missing_a_language_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "base.json").write_text(json.dumps({"hello": {"en": "Hello"}}), encoding="utf-8")
    monkeypatch.setattr("sync_server.web.i18n.I18N_DIR", tmp_path)
    page_table.cache_clear()
    try:
        with pytest.raises(ValueError, match="hello.ko"):
            page_table("nothing")
    finally:
        page_table.cache_clear()
