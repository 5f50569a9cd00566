"""/docs (Swagger UI) and /redoc served from assets shipped in the `fastapi-offline` package: no CDN."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_ASSETS = Path(fastapi_offline.__file__).parent / "static"
ASSETS_URL = "/static-docs"
# Nothing may leave the machine: ReDoc's sidebar shows a logo from its maker's CDN with no option to turn it
# off, so the browser is told to load only from this server (the logo is then left out). The pages' own small
# bootstrap scripts are inline, hence 'unsafe-inline' for scripts and styles here (not on our pages).
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


def _offline(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = DOCS_CSP
    return page


def install_docs(app: FastAPI) -> None:
    """Add /docs and /redoc pointing at the bundled Swagger UI and ReDoc (call with docs_url=None)."""
    app.mount(ASSETS_URL, StaticFiles(directory=DOCS_ASSETS), name="static-docs")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return _offline(
            get_swagger_ui_html(
                openapi_url=openapi_url,
                title=f"{app.title} — API",
                swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
                swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
                swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
                # The validator badge would call an outside service.
                swagger_ui_parameters={"validatorUrl": None},
            )
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return _offline(
            get_redoc_html(
                openapi_url=openapi_url,
                title=f"{app.title} — API",
                redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
                redoc_favicon_url=f"{ASSETS_URL}/favicon.png",
                with_google_fonts=False,
            )
        )
