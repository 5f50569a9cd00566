"""Rendering a page: the Jinja2 environment, the texts in the chosen language, the role matrix, headers."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from aipipe_shared.version import __version__

from ..auth.permissions import ROLE_PERMISSIONS
from ..settings import Settings
from .i18n import LANG_COOKIE, LANGUAGES, choose_language, texts_for

WEB_DIR = Path(__file__).parent
STATIC_DIR = WEB_DIR / "static"
# Scripts only from this server, no inline code: an injected <script> in a record's text cannot run.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)


def static_version(folder: Path = STATIC_DIR) -> str:
    """A short hash of the package version and every static file: the URL prefix that busts caches."""
    digest = hashlib.sha256(__version__.encode())
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


class Pages:
    """Renders templates; built once per app by `install_web` (no module-level state)."""

    def __init__(self, settings: Settings) -> None:
        self.env = Environment(
            loader=FileSystemLoader(WEB_DIR / "templates"),
            autoescape=select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.static_prefix = f"/static/{static_version()}"
        self.roles = {role: sorted(p.value for p in perms) for role, perms in ROLE_PERMISSIONS.items()}
        self.ws_ping_interval_s = settings.ws_ping_interval_s

    def render(self, request: Request, page: str, **context: Any) -> HTMLResponse:
        """Page `page` (template `<page>.html`, texts base.json + `<page>.json`) in the chosen language."""
        lang = choose_language(request)
        texts = texts_for(page, lang)
        boot = {
            "page": page,
            "lang": lang,
            "texts": texts,
            "roles": self.roles,
            "ws_ping_interval_s": self.ws_ping_interval_s,
            **context.pop("boot", {}),
        }
        html = self.env.get_template(f"{page}.html").render(
            page=page,
            lang=lang,
            languages=LANGUAGES,
            t=texts,
            static=self.static_prefix,
            boot_json=json.dumps(boot, ensure_ascii=False).replace("</", "<\\/"),
            version=__version__,
            **context,
        )
        response = HTMLResponse(html)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Cache-Control"] = "no-cache"
        if request.query_params.get("lang") in LANGUAGES:
            response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, samesite="lax")
        return response
