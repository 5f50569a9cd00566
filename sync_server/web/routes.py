"""The page routes: /, /login, /farm, /review, versioned static files. Data and actions go through /api."""

from __future__ import annotations

from typing import get_args

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse

from ..farm.schemas import JobType
from ..settings import Settings
from .docs import install_docs
from .media import api_router as media_api_router
from .media import public_router as media_public_router
from .pages import STATIC_DIR, Pages

IMMUTABLE = "public, max-age=31536000, immutable"
QUEUE_ROWS = 200  # the dashboard's queue shows this many jobs of the filter (and the total)


def build_router(pages: Pages, settings: Settings) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/", response_class=HTMLResponse)
    def index(request: Request) -> HTMLResponse:
        """The page index (farm, review, API docs) instead of a 404."""
        return pages.render(request, "index")

    @router.get("/login", response_class=HTMLResponse)
    def login(request: Request) -> HTMLResponse:
        return pages.render(request, "login")

    @router.get("/farm", response_class=HTMLResponse)
    def farm(request: Request) -> HTMLResponse:
        """The wrangler's dashboard: agents, GPUs, current jobs, the queue, throughput, actions."""
        return pages.render(
            request,
            "farm",
            boot={
                "job_types": list(get_args(JobType)),
                "agent_offline_s": settings.farm_agent_offline_s,
                "queue_limit": QUEUE_ROWS,
            },
        )

    @router.get("/review", response_class=HTMLResponse)
    def review(request: Request) -> HTMLResponse:
        """The director's review room: shots in edit order, versions side by side or wiped, notes."""
        return pages.render(request, "review", boot={"page_size_max": settings.page_size_max})

    @router.get("/static/{version}/{path:path}")
    def static(version: str, path: str) -> FileResponse:
        """Files of the package's static/ folder; cached for good when `version` is the current one."""
        target = (STATIC_DIR / path).resolve()
        if not target.is_relative_to(STATIC_DIR.resolve()) or not target.is_file():
            raise HTTPException(404, f"no static file {path}")
        current = pages.static_prefix.rsplit("/", 1)[1]
        cache = IMMUTABLE if version == current else "no-cache"
        return FileResponse(target, headers={"Cache-Control": cache, "X-Content-Type-Options": "nosniff"})

    return router


def install_web(app: FastAPI, settings: Settings) -> Pages:
    """Add the pages, their static files and the offline API docs to `app` (from the app factory)."""
    pages = Pages(settings)
    app.state.pages = pages
    app.include_router(build_router(pages, settings))
    app.include_router(media_api_router, prefix="/api")
    app.include_router(media_public_router)
    install_docs(app)
    return pages
