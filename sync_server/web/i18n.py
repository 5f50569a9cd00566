"""Page texts in Korean and English: one JSON file per page under i18n/, {key: {"en": ..., "ko": ...}}."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from starlette.requests import Request

LANGUAGES = ("en", "ko")
LANG_COOKIE = "aipipe_lang"
I18N_DIR = Path(__file__).parent / "i18n"


@lru_cache(maxsize=32)
def page_table(page: str) -> dict[str, dict[str, str]]:
    """The shared texts (base.json) merged with one page's texts; every key has every language."""
    table: dict[str, dict[str, str]] = {}
    for name in ("base", page):
        path = I18N_DIR / f"{name}.json"
        if path.is_file():
            table.update(json.loads(path.read_text(encoding="utf-8")))
    missing = [f"{key}.{lang}" for key, texts in table.items() for lang in LANGUAGES if not texts.get(lang)]
    if missing:
        raise ValueError(f"i18n for page {page!r} lacks texts: {', '.join(missing[:10])}")
    return table


def texts_for(page: str, lang: str) -> dict[str, str]:
    """The page's texts in one language (what the page's script receives)."""
    return {key: texts[lang] for key, texts in page_table(page).items()}


def choose_language(request: Request) -> str:
    """`?lang=` first, then the cookie the switch sets, then the browser's Accept-Language; else English."""
    for candidate in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)):
        if candidate in LANGUAGES:
            return candidate
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return "en"
