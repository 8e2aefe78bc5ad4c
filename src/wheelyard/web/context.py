"""The per-process state every handler needs: settings, database, blob store, page cache,
and the download counts not yet written."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from wheelyard.config import Settings
from wheelyard.db.changes import ChangeProbe
from wheelyard.db.unit import run_unit
from wheelyard.storage import BlobStore
from wheelyard.web.pagecache import PageCache
from wheelyard.yard.downloads import DownloadTally
from wheelyard.yard.throttle import AuthThrottle

P = ParamSpec("P")
T = TypeVar("T")


@dataclass
class YardContext:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    store: BlobStore
    throttle: AuthThrottle
    pages: PageCache = field(default_factory=PageCache)
    downloads: DownloadTally = field(default_factory=DownloadTally)
    # The web UI's anonymous pages, reused while the database is unchanged (SQLite only).
    ui_pages: PageCache = field(default_factory=lambda: PageCache(2_000, "ui"))
    ui_probe: ChangeProbe | None = None

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """Run ``fn(session, *args)`` in a worker thread as one unit of work: committed when
        it returns, rolled back when it raises (``db.unit``). The services it calls only
        flush; a handler that needs two units (see ``anaconda.transfer``) calls ``run`` twice.
        A unit PostgreSQL rolled back as a deadlock's loser runs again (``db.unit.run_unit``)."""

        return await run_in_threadpool(run_unit, self.sessions, fn, *args)


def ctx(request: Request) -> YardContext:
    context: YardContext = request.app.state.yard
    return context
