"""ASGI front for the hot path: anonymous Simple API GETs answered from memory.

A rendered page is reused only while the database is unchanged (``ChangeProbe``: SQLite's
data version; on PostgreSQL this process's cache lease, or the snapshot without one), so no
reader ever sees a stale page, whichever server of a yard committed the change. The lease is
taken at start-up and given up at shutdown (the lifespan events pass through here).
Anything unusual — credentials, a path token, a name to redirect, an error, a backend without
a change counter — goes to the full application.
"""

from __future__ import annotations

import re

from packaging.utils import canonicalize_name
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wheelyard.db.changes import ChangeProbe
from wheelyard.errors import YardError
from wheelyard.web import render
from wheelyard.web.context import YardContext
from wheelyard.web.metrics import ROUTE_KEY
from wheelyard.web.pagecache import PageCache
from wheelyard.web.simple import build_page, page_headers
from wheelyard.yard.names import DEFAULT_LABEL

_TEMPLATES = {
    (False, False): "/{owner}/simple/",
    (False, True): "/{owner}/simple/{project}/",
    (True, False): "/{owner}/label/{label}/simple/",
    (True, True): "/{owner}/label/{label}/simple/{project}/",
}
_PATH = re.compile(r"^/([^/]+)/(?:label/([^/]+)/)?simple/(?:([^/]+)/)?$")


class FastIndex:
    def __init__(self, app: ASGIApp, yard: YardContext, probe: ChangeProbe) -> None:
        self.app = app
        self.yard = yard
        self.probe = probe
        self.pages = PageCache(name="fast")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            return await self.app(scope, receive, self._lifespan(send))
        if (
            scope["type"] != "http"
            or scope["method"] not in ("GET", "HEAD")
            or scope.get("query_string")
        ):
            return await self.app(scope, receive, send)
        match = _PATH.match(scope["path"])
        if match is None:
            return await self.app(scope, receive, send)
        owner, label, project = match.groups()
        accept = etags = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                return await self.app(scope, receive, send)
            if name == b"accept":
                accept = value.decode("latin-1")
            elif name == b"if-none-match":
                etags = value.decode("latin-1")
        media = render.negotiate(accept, None)
        version = await self.probe.aversion()
        if media is None or version is None or (project and canonicalize_name(project) != project):
            return await self.app(scope, receive, send)

        key = (owner, label or DEFAULT_LABEL, project, media)
        cached = self.pages.get(key, version)
        if cached is not None:
            page = cached
        else:
            try:
                # build_page keeps its own per-label cache (same Page objects, no copies):
                # a commit elsewhere empties this cache, but untouched labels skip re-rendering.
                page, private = await self.yard.run(
                    build_page,
                    None,
                    owner,
                    label or DEFAULT_LABEL,
                    project,
                    media,
                    self.yard.pages,
                )
            except YardError:
                return await self.app(scope, receive, send)
            if private:  # not reachable anonymously, but never cache such a page here
                return await self.app(scope, receive, send)
            self.pages.put(key, version, page)

        # Answered here, outside the router: name the route template for /-/metrics.
        scope[ROUTE_KEY] = _TEMPLATES[(label is not None, project is not None)]
        headers = [(k.lower().encode(), v.encode()) for k, v in page_headers(page, False).items()]
        if page.status == 200 and etags and page.etag in etags:
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return None
        headers += [
            (b"content-type", page.media_type.encode()),
            (b"content-length", str(len(page.body)).encode()),
        ]
        await send({"type": "http.response.start", "status": page.status, "headers": headers})
        body = page.body if scope["method"] == "GET" else b""
        await send({"type": "http.response.body", "body": body})
        return None

    def _lifespan(self, send: Send) -> Send:
        async def sending(message: Message) -> None:
            if message["type"] == "lifespan.startup.complete":
                await self.probe.aversion()  # takes the lease (PostgreSQL) before requests
            elif message["type"] == "lifespan.shutdown.complete":
                await self.probe.aclose()  # writers stop waiting for this process at once
            await send(message)

        return sending
