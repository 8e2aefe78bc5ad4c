"""Prometheus metrics: an ASGI middleware that counts every request by route *template* (never
the raw path: bounded labels, no owner names) and status, times it, counts bytes served and
uploads (the page itself: web/metricspage.py).

With several worker processes (``wheelyard serve --workers N``) prometheus_client's
multiprocess mode is used: ``serve`` sets ``PROMETHEUS_MULTIPROC_DIR`` before the workers
start and each worker writes its own files there.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from prometheus_client import Counter, Histogram
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ROUTE_KEY = "wheelyard.route"  # set by handlers that answer outside the router (fastpath)
UNMATCHED = "<unmatched>"
TOKEN_PREFIX = "/t/{token}"  # noqa: S105 - a route template, not a secret
# Upload endpoints: a 2xx answer from one of these stored a file.
UPLOAD_ROUTES = {("POST", t) for t in ("/{owner}", "/{owner}/", "/{owner}/label/{label}")} | {
    ("POST", "/{owner}/label/{label}/"),
    ("POST", "/api/commit/{owner}/{package}/{version}/{basename}"),
}

REQUESTS = Counter(
    "wheelyard_http_requests", "HTTP requests answered", ["method", "route", "status"]
)
LATENCY = Histogram(
    "wheelyard_http_request_duration_seconds",
    "Time to answer a request, to the last byte",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
BYTES = Counter("wheelyard_http_response_bytes", "Response body bytes sent", ["route"])
UPLOADS = Counter("wheelyard_uploads", "Files stored through upload routes", ["route"])
CACHE = Counter("wheelyard_page_cache", "Rendered-page cache lookups", ["cache", "result"])


def cache_counters(name: str) -> tuple[Callable[[], None], Callable[[], None]]:
    """The (hit, miss) increments of one named page cache, bound once (the hot path)."""
    return CACHE.labels(name, "hit").inc, CACHE.labels(name, "miss").inc


def route_table(routes: Iterable[BaseRoute], prefix: str = "") -> dict[int, str]:
    """Each route object's full template, by identity (``scope["route"]`` is the innermost
    route; the routes under ``/t/{token}`` are the owner-scoped ones again: see template)."""
    table: dict[int, str] = {}
    for item in routes:
        path = prefix + getattr(item, "path", "")
        path = path.replace(":path", "").replace(":str", "").removeprefix(TOKEN_PREFIX)
        if isinstance(item, Mount):
            table.setdefault(id(item), (path or "") + "/{path}")
            for key, value in route_table(item.routes, path).items():
                table.setdefault(key, value)
        elif isinstance(item, Route):
            table.setdefault(id(item), path or "/")
    return table


def template(scope: Scope, table: dict[int, str]) -> str:
    named = scope.get(ROUTE_KEY)
    if named is not None:
        return str(named)
    route = scope.get("route")
    found = table.get(id(route)) if route is not None else None
    if found is None:
        return UNMATCHED
    if "token" in scope.get("path_params", ()) and scope["path"].startswith("/t/"):
        return TOKEN_PREFIX + found
    return found


Bound = tuple[
    Callable[[], None], Callable[[float], None], Callable[[float], None], Callable[[], None] | None
]


def _bind(method: str, route: str, status: int) -> Bound:
    """The metric children one (method, route, status) updates."""
    upload = 200 <= status < 300 and (method, route.removeprefix(TOKEN_PREFIX)) in UPLOAD_ROUTES
    return (
        REQUESTS.labels(method, route, str(status)).inc,
        LATENCY.labels(method, route).observe,
        BYTES.labels(route).inc,
        UPLOADS.labels(route).inc if upload else None,
    )


class Observed:
    """What the middleware saw of one request, handed to the access log."""

    __slots__ = ("bytes", "duration", "route", "scope", "status")

    def __init__(self, scope: Scope, route: str, status: int, size: int, duration: float):
        self.scope, self.route, self.status = scope, route, status
        self.bytes, self.duration = size, duration


class Metrics:
    """Outermost middleware: measures every HTTP request; ``log`` (if any) gets each one."""

    def __init__(
        self,
        app: ASGIApp,
        routes: Iterable[BaseRoute],
        log: Callable[[Observed], None] | None = None,
    ) -> None:
        self.app = app
        self.table = route_table(routes)
        self.log = log
        # Bounded: route templates × methods × statuses, all finite.
        self.bound: dict[tuple[str, str, int], Bound] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        status, size = 500, 0

        async def counted(message: Message) -> None:
            nonlocal status, size
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, counted)
        finally:
            duration = time.perf_counter() - start
            method, route = scope["method"], template(scope, self.table)
            key = (method, route, status)
            bound = self.bound.get(key)
            if bound is None:  # labels() is slow on the hot path: bind once per key
                bound = self.bound[key] = _bind(method, route, status)
            count, observe, sent, uploaded = bound
            count()
            observe(duration)
            if size:
                sent(size)
            if uploaded is not None:
                uploaded()
            if self.log is not None:
                self.log(Observed(scope, route, status, size, duration))
        return None
