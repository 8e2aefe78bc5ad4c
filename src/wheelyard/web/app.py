"""The ASGI application: routes for the simple index, uploads and downloads, per owner/label,
each also reachable under ``/t/<TOKEN>/`` for private reads; the Anaconda API; the web UI."""

from __future__ import annotations

import logging

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp

from wheelyard import __version__
from wheelyard.config import Settings
from wheelyard.db.changes import ChangeProbe
from wheelyard.db.session import make_engine, make_sessionmaker, migrate
from wheelyard.errors import StorageError
from wheelyard.storage import open_store
from wheelyard.storage.staging import sweep_staging
from wheelyard.web import alllabels, anaconda, buildrecords, files, ready, simple, ui, upload
from wheelyard.web.accesslog import log_json
from wheelyard.web.context import YardContext
from wheelyard.web.errors import HANDLERS
from wheelyard.web.fastpath import FastIndex
from wheelyard.web.housekeeping import lifespan
from wheelyard.web.metrics import Metrics
from wheelyard.web.metricspage import metrics
from wheelyard.web.routing import by_method
from wheelyard.yard.throttle import AuthThrottle


async def health(request: Request) -> Response:
    """Liveness: answered on the event loop, touching neither the database, the store nor a
    worker thread. Container engines restart (and proxies drop) a replica whose health check
    fails, so an outage of a dependency every replica shares must not fail it: that would
    take every replica out at once and restart them for nothing. ``/-/ready`` says whether
    the dependencies answer."""
    return JSONResponse({"ok": True, "version": __version__})


def _label_routes() -> list[BaseRoute]:
    """Routes below a label prefix: ``/<owner>`` (label main) or ``/<owner>/label/<label>``."""
    return [
        Route("/simple/", simple.index_root, methods=["GET", "HEAD"]),
        Route("/simple/{project}/", simple.project_page, methods=["GET", "HEAD"]),
        Route("/files/{sha256:str}/{filename:str}", files.download, methods=["GET", "HEAD"]),
        Route("/", upload.upload, methods=["POST"]),
    ]


def routes() -> list[BaseRoute]:
    owner_scoped = [
        Mount(
            "/{owner}/all-labels",
            routes=[
                Route("/simple/{project}/", alllabels.project_page, methods=["GET", "HEAD"]),
                Route(
                    "/files/{sha256:str}/{filename:str}",
                    alllabels.download,
                    methods=["GET", "HEAD"],
                ),
            ],
        ),
        # twine and uv post to the repository URL exactly as the user typed it
        Route("/{owner}/label/{label}", upload.upload, methods=["POST"]),
        Route("/{owner}", upload.upload, methods=["POST"]),
        Mount("/{owner}/label/{label}", routes=_label_routes()),
        Mount("/{owner}", routes=_label_routes()),
    ]
    return [
        Route("/", ui.browsing.home, methods=["GET", "HEAD"]),
        Route("/-/health", health),
        Route("/-/ready", ready.ready),
        Route("/-/metrics", metrics),
        Route("/api", anaconda.api_root, methods=["GET", "HEAD"]),
        *by_method(
            "/api/build-records/{owner}/{label}/{key}",
            GET=buildrecords.show,
            PUT=buildrecords.store,
        ),
        Mount("/api", routes=anaconda.routes()),
        Mount("/t/{token}", routes=list(owner_scoped)),
        *ui.routes(),  # before the owner-scoped index routes, which take POSTs to the same paths
        *owner_scoped,
    ]


def build_context(settings: Settings) -> YardContext:
    engine = make_engine(settings.database_url)
    migrate(engine)
    store = open_store(settings.storage_url)
    # Left by killed uploads and puts; none can be live before the server starts.
    sweep_staging(settings.staging, older_than=24 * 3600)
    try:
        store.sweep_incomplete(older_than=24 * 3600)
    except StorageError as exc:  # storage down at start: serve anyway; /-/ready says so
        logging.getLogger("wheelyard.web").warning("%s", exc.message)
    sessions = make_sessionmaker(engine)
    throttle = AuthThrottle(
        sessions,
        settings.auth_failures_per_client,
        settings.auth_failures_per_user,
        settings.auth_window,
    )
    context = YardContext(settings, engine, sessions, store, throttle)
    context.ui_probe = ChangeProbe(settings.database_url)
    return context


def create_app(settings: Settings | None = None) -> ASGIApp:
    settings = settings or Settings.from_env()
    app = Starlette(routes=routes(), exception_handlers=HANDLERS, lifespan=lifespan)
    app.state.yard = build_context(settings)
    # The fast path probes PostgreSQL too (async, on the loop); the UI's cache stays SQLite's.
    fast = FastIndex(app, app.state.yard, ChangeProbe(settings.database_url, postgres=True))
    json_log = settings.log_format == "json"
    if settings.metrics == "off" and not json_log:
        return fast  # nothing to measure or log: no middleware on the hot path at all
    return Metrics(fast, app.routes, log_json if json_log else None)
