"""Every text of the web pages exists in English and Korean, and every key a page uses is in its table, in
both languages: the keys its template names, and those its scripts (the page's script and every module it
imports) name, written out in full, in a t("key") call or in a `*_TEXTS` table (value → key) that `textOf`
reads. A key built at run time (t(`stage_${stage}`), t("role_" + role)) would be invisible here: none
may be."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from aipipe_shared.vocabulary import JOB_STATUSES, ROLES, SHOT_STATUSES, VERDICTS, VERSION_STAGES
from sync_server.web.i18n import I18N_DIR, LANGUAGES, page_table

WEB = I18N_DIR.parent
JS = WEB / "static" / "js"
TEMPLATES = WEB / "templates"
PAGES = ["index", "login", "farm", "review"]
# Every call of t(…) in a script: its first argument must be a key written out in full, or a `*_TEXTS` table's
# entry (only api.js's textOf reads a table it is given).
T_CALL = re.compile(r"""(?<![\w.])t\(\s*([^,)]*)""")
LITERAL_KEY = re.compile(r"""["']([a-z0-9_]+)["']""")
TABLE_USE = re.compile(r"""[A-Z][A-Z0-9_]*_TEXTS\[""")
TEXT_OF_CALL = re.compile(r"""(?<![\w.])textOf\(\s*([^,)]*)""")
TEXTS_TABLE = re.compile(r"""\bconst ([A-Z][A-Z0-9_]*_TEXTS) = \{([^}]*)\}""")
TABLE_ENTRY = re.compile(r"""(\w+):\s*["']([a-z0-9_]+)["']""")
IMPORT = re.compile(r"""\bfrom\s+["']\./([\w.]+\.js)["']""")
SCRIPT_BLOCK = re.compile(r"""\{%\s*block script\s*%\}([\w.]+\.js)\{%\s*endblock\s*%\}""")
# {{ t.key }} / t["key"] in templates; and the keys a template builds from a value, each named here.
TEMPLATE_KEY = re.compile(r"""\bt\.([a-z0-9_]+)|\bt\[["']([a-z0-9_]+)["']\]""")
TEMPLATE_BUILT = re.compile(r"""\bt\[([^\]"']*(?:["'][^"']*["'][^\]"']*)*)\]""")
BUILT_IN_TEMPLATES = {
    '"lang_" + code': {f"lang_{code}" for code in LANGUAGES},
    '"status_" + s': {f"status_{status}" for status in JOB_STATUSES},
}
# What a table must cover: every value the API can send.
TABLE_VALUES = {
    "ROLE_TEXTS": set(ROLES),
    "JOB_STATUS_TEXTS": set(JOB_STATUSES),
    "SHOT_STATUS_TEXTS": set(SHOT_STATUSES),
    "STAGE_TEXTS": set(VERSION_STAGES),
    "VERDICT_TEXTS": set(VERDICTS),
}


def scripts_of(page: str) -> list[Path]:
    """The page's script (its template's script block, else base.html's page.js) and every module it
    imports, transitively."""
    found = SCRIPT_BLOCK.search((TEMPLATES / f"{page}.html").read_text(encoding="utf-8"))
    todo = [found.group(1) if found else "page.js"]
    seen: list[Path] = []
    while todo:
        path = JS / todo.pop()
        if path in seen:
            continue
        seen.append(path)
        todo.extend(IMPORT.findall(path.read_text(encoding="utf-8")))
    return seen


def tables_in(source: str) -> dict[str, dict[str, str]]:
    return {name: dict(TABLE_ENTRY.findall(body)) for name, body in TEXTS_TABLE.findall(source)}


def keys_in_script(path: Path) -> set[str]:
    """The keys `path` names; fails on a t(…) whose key is not written out in full."""
    source = path.read_text(encoding="utf-8")
    keys: set[str] = set()
    for argument in T_CALL.findall(source):
        argument = argument.strip()
        literal = LITERAL_KEY.fullmatch(argument)
        if literal:
            keys.add(literal.group(1))
        elif path.name == "api.js" and argument in ("key", "table[value]"):
            continue  # t's own definition and textOf's, which reads a table
        else:
            assert TABLE_USE.match(argument), f"{path.name}: t({argument}…) builds its key: use a *_TEXTS"
    for table in TEXT_OF_CALL.findall(source):
        assert re.fullmatch(r"[A-Z][A-Z0-9_]*_TEXTS|table", table.strip()), f"{path.name}: textOf({table}…)"
    for name, table in tables_in(source).items():
        assert table, f"{path.name}: {name} holds no key"
        keys |= set(table.values())
    return keys


def keys_in_template(name: str) -> set[str]:
    source = (TEMPLATES / name).read_text(encoding="utf-8")
    keys = {a or b for a, b in TEMPLATE_KEY.findall(source)}
    for built in TEMPLATE_BUILT.findall(source):
        if LITERAL_KEY.fullmatch(built.strip()):
            continue
        assert built.strip() in BUILT_IN_TEMPLATES, f"{name}: t[{built}] builds its key: name it in this test"
        keys |= BUILT_IN_TEMPLATES[built.strip()]
    return keys


def test_every_text_has_every_language() -> None:
    for path in sorted(I18N_DIR.glob("*.json")):
        for key, texts in json.loads(path.read_text(encoding="utf-8")).items():
            for lang in LANGUAGES:
                assert texts.get(lang, "").strip(), f"{path.name}: {key} has no {lang} text"


@pytest.mark.parametrize("page", PAGES)
def test_every_key_a_page_uses_is_in_its_table_in_every_language(page: str) -> None:
    used: set[str] = set()
    for script in scripts_of(page):
        used |= keys_in_script(script)
    for template in (f"{page}.html", "base.html"):
        used |= keys_in_template(template)
    assert used, page
    texts: dict[str, dict[str, str]] = {}
    for name in ("base", page):  # read as the page's table is (a later file's key replaces an earlier one's)
        path = I18N_DIR / f"{name}.json"
        if path.is_file():
            texts.update(json.loads(path.read_text(encoding="utf-8")))
    for lang in LANGUAGES:
        has = {key for key, text in texts.items() if text.get(lang, "").strip()}
        assert sorted(used - has) == [], f"{page}: keys without a {lang} text"


def test_the_review_rooms_scripts_are_read() -> None:
    assert {path.name for path in scripts_of("review")} == {"review.js", "review_media.js", "api.js"}
    assert {path.name for path in scripts_of("farm")} >= {"farm.js", "charts.js", "api.js"}


@pytest.mark.parametrize("table", sorted(TABLE_VALUES))
def test_a_texts_table_covers_every_value_the_api_sends(table: str) -> None:
    found = {}
    for script in JS.glob("*.js"):
        found.update(tables_in(script.read_text(encoding="utf-8")))
    assert table in found, f"no script holds {table}"
    assert sorted(TABLE_VALUES[table] - found[table].keys()) == []


def test_a_key_built_at_run_time_is_refused(tmp_path: Path) -> None:
    for built in ("t(`stage_${stage}`)", 't("role_" + me.role)', "t(key)"):
        script = tmp_path / "page.js"
        script.write_text(f"el.textContent = {built};\n", encoding="utf-8")
        with pytest.raises(AssertionError, match="builds its key"):
            keys_in_script(script)
    script.write_text('const LIVE_TEXTS = { on: "live_on" };\nx = t(LIVE_TEXTS[s]) + t("a_b");\n', "utf-8")
    assert keys_in_script(script) == {"live_on", "a_b"}


def test_a_table_missing_a_language_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "base.json").write_text(json.dumps({"hello": {"en": "Hello"}}), encoding="utf-8")
    monkeypatch.setattr("sync_server.web.i18n.I18N_DIR", tmp_path)
    page_table.cache_clear()
    try:
        with pytest.raises(ValueError, match="hello.ko"):
            page_table("nothing")
    finally:
        page_table.cache_clear()
