"""The app factory: `create_app(settings)` builds everything; nothing happens at import time."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI, Response
from fastapi.middleware.cors import CORSMiddleware
from sqlalchemy import text

from aipipe_shared.version import __version__

from .audit.routes import router as audit_router
from .auth.key_cache import ApiKeyCache
from .auth.passwords import Passwords
from .auth.permissions import Permission
from .auth.routes import router as auth_router
from .auth.tokens import Tokens
from .breakdown.routes import router as breakdown_router
from .cache import ResponseCache
from .camera.routes import router as camera_router
from .catalog.characters import CHARACTERS
from .catalog.environments import ENVIRONMENTS
from .catalog.presets import PRESETS, clone_router
from .catalog.scenes import SCENES
from .costs.routes import router as costs_router
from .dailies.routes import router as dailies_router
from .db.engine import make_database
from .db.migrate import upgrade
from .db_errors import install_db_error_handlers, watch_sessions
from .delivery.routes import router as delivery_router
from .deps import Services, ServicesDep, require
from .editorial.routes import router as editorial_router
from .errors import install_error_handlers
from .events import EventHub
from .events_routes import router as events_router
from .farm.dispatch import ClaimDispatcher
from .farm.playblast import router as playblast_router
from .farm.render import router as render_router
from .farm.routes import router as farm_router
from .farm.workflow_list import router as workflow_list_router
from .history.routes import router as history_router
from .ingest.routes import router as ingest_router
from .input_guard import InputGuardMiddleware, integer_bounds
from .layout.routes import router as layout_router
from .metrics import Metrics
from .middleware import BodyLimitMiddleware, RequestContextMiddleware
from .openapi import install_openapi
from .project_children import build_router
from .projects.archive_routes import router as archive_router
from .projects.routes import router as projects_router
from .prompts.routes import router as prompts_router
from .recipes.routes import router as recipes_router
from .settings import Settings
from .shotlist.routes import router as shotlist_router
from .shots.routes import router as shots_router
from .storage.meta import MetaWriter
from .storage.routes import router as storage_router
from .storage.sweep import sweep_forever
from .takes.routes import router as takes_router
from .users.routes import router as users_router
from .versions.routes import router as versions_router
from .web.routes import install_web

logger = logging.getLogger(__name__)
TMP_SWEEP_S = 3600.0  # between sweeps for temporary files left by interrupted writes
UPLOAD_PREFIXES = (
    "/api/shots/",
    "/api/farm/jobs/",
    "/api/farm/agents/",
    "/api/projects/",
    "/api/characters/",  # reference images
    "/api/versions/",  # .fspy camera imports (they carry the picture)
)


def build_services(settings: Settings) -> Services:
    settings.ensure_dirs()
    url = settings.resolved_database_url
    db = make_database(url, pool_size=settings.db_pool_size)
    watch_sessions(db.write_sessions, db.read_sessions)
    hub = EventHub(db, settings.events_poll_interval_s, url, settings.events_queue_size)
    meta = MetaWriter(db, settings.resolved_storage_root)
    hub.add_listener(meta.handle, meta.wants)
    claims = ClaimDispatcher(db, hub, settings)
    hub.add_loop_listener(claims.on_event)
    hub.add_commit_listener(claims.on_commit)
    api_keys = ApiKeyCache(settings.api_key_cache_s)
    hub.add_loop_listener(api_keys.on_event)
    metrics = Metrics()
    metrics.waiting_claims.set_function(claims.waiting_count)
    hub.add_commit_listener(metrics.farm.on_commit)
    return Services(
        settings=settings,
        db=db,
        passwords=Passwords(),
        tokens=Tokens(
            settings.resolved_jwt_secret(), settings.access_token_ttl_s, settings.refresh_token_ttl_s
        ),
        hub=hub,
        metrics=metrics,
        meta=meta,
        responses=ResponseCache(),
        shot_fragments=ResponseCache(max_entries=100_000, max_bytes=128 * 1024 * 1024),
        claims=claims,
        api_keys=api_keys,
    )


def _system_router() -> APIRouter:
    router = APIRouter(tags=["system"])

    @router.get("/health", operation_id="health", responses={503: {"model": dict[str, str]}})
    def health(services: ServicesDep, response: Response) -> dict[str, str]:
        """Liveness and database reachability; needs no login."""
        try:
            with services.db.read_sessions() as session:
                session.execute(text("SELECT 1"))
            database = services.db.dialect
            state = "ok"
        except Exception:
            logger.exception("health check: database unreachable")
            database, state = "unreachable", "degraded"
            response.status_code = 503
        return {"status": state, "version": __version__, "database": database}

    @router.get(
        "/metrics",
        dependencies=[Depends(require(Permission.METRICS_READ))],
        operation_id="metrics",
        response_class=Response,
    )
    def metrics(services: ServicesDep) -> Response:
        return Response(services.metrics.render(), media_type="text/plain; version=0.0.4")

    return router


def create_app(settings: Settings, *, migrate: bool = True) -> FastAPI:
    """Build the API for `settings`: database, auth, events, routes and middleware."""
    services = build_services(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await services.hub.start()
        # Temporary files a killed server left behind (its atomic writes were cut short).
        farm_counts = asyncio.create_task(
            services.metrics.farm.refresh_forever(services.db, settings), name="aipipe-farm-metrics"
        )
        sweeper = asyncio.create_task(
            sweep_forever(
                [settings.data_dir, settings.resolved_storage_root], settings.stale_tmp_age_s, TMP_SWEEP_S
            ),
            name="aipipe-tmp-sweep",
        )
        # Long-lived objects made at start-up need not be traced by every full collection.
        gc.collect()
        gc.freeze()
        logger.info("server ready", extra={"database": services.db.dialect})
        try:
            yield
        finally:
            for task in (sweeper, farm_counts):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await services.hub.stop()
            services.db.dispose()

    if migrate:
        upgrade(settings.resolved_database_url)

    app = FastAPI(
        title="AIPipeline sync server",
        version=__version__,
        description="Project state for AIPipeline: shots, assets, users, live events. "
        "Errors are RFC 9457 problem+json. Updates need the revision you edited (409 when stale).",
        lifespan=lifespan,
        dependencies=[Depends(integer_bounds())],
        docs_url=None,  # /docs and /redoc come from web.install_web, with their assets served offline
        openapi_url="/openapi.json",
        redoc_url=None,
    )
    app.state.services = services
    install_error_handlers(app)
    install_db_error_handlers(app)

    # Each feature's router straight under /api, the farm's first: FastAPI tries the routes one by one,
    # and the agents' claims and heartbeats are the most frequent calls (no other path starts /api/farm).
    routers = [
        farm_router,
        _system_router(),
        auth_router,
        users_router,
        projects_router,
        archive_router,
        *(build_router(spec) for spec in (SCENES, CHARACTERS, ENVIRONMENTS, PRESETS)),
        clone_router,
        shots_router,
        versions_router,  # its lifespan cleans up after crashed uploads at start-up
        storage_router,
        editorial_router,  # its lifespan starts the proxy job runner
        render_router,
        playblast_router,
        breakdown_router,
        prompts_router,
        workflow_list_router,
        audit_router,
        events_router,
        history_router,
        shotlist_router,
        ingest_router,
        takes_router,
        camera_router,
        layout_router,
        costs_router,
        recipes_router,
        delivery_router,
        dailies_router,
    ]
    for router in routers:
        app.include_router(router, prefix="/api")
    install_openapi(app)
    install_web(app, settings)

    # Outermost last: the request id and metrics wrap everything, including 413s.
    app.add_middleware(InputGuardMiddleware, max_json_depth=settings.max_json_depth)
    app.add_middleware(
        BodyLimitMiddleware,
        max_body_bytes=settings.max_body_bytes,
        upload_prefixes=UPLOAD_PREFIXES,
        max_upload_bytes=settings.max_upload_bytes,
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "If-Match", "X-Request-ID"],
            expose_headers=["ETag", "X-Request-ID"],
        )
    app.add_middleware(RequestContextMiddleware, metrics=services.metrics)
    return app
